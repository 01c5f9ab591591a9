// The console's one script, served from /console/static: conveniences only, every page
// works without it.
"use strict";
document.addEventListener("click", (event) => {
	// "Select all shown" ticks every card of its board column.
	const button = event.target.closest("button.select-column");
	if (!button) {
		return;
	}
	const column = button.closest("section.column");
	const boxes = column.querySelectorAll("input[type=checkbox][name=ids]");
	const tick = Array.from(boxes).some((box) => !box.checked);
	boxes.forEach((box) => { box.checked = tick; });
});
document.addEventListener("submit", (event) => {
	// Cancelling cannot be undone: ask once.
	const form = event.target;
	const action = form.querySelector("select[name=action]");
	const cancels = form.id === "form-cancel" || (action && action.value === "cancel");
	if (cancels && !window.confirm("Cancel for good? This cannot be undone.")) {
		event.preventDefault();
	}
});
