//go:build browser

package api_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/collabflow/collabflow/store"
)

// The browser test is built only with -tags browser (make test-browser): it needs
// Chromium, which make test does not install.

// screenshotDir is where a failed browser test leaves its screenshots: .data/ at the
// repository root, which git ignores.
const screenshotDir = "../.data/screenshots"

// browserWait bounds each wait for the console: a deadline for a busy 2-core CI machine,
// not a speed requirement.
const browserWait = time.Minute

// TestBrowserConsole drives the console in headless Chromium as its people would: ops
// signs in, opens the campaign board, starts a collaboration with a roster creator from
// the board's form and opens another collaboration from its card; a reviewer
// approves the draft from the review queue and its card moves to the awaiting post
// column; finance confirms the fee in the payout queue and the collaboration shows it
// paid. A failure leaves a screenshot of each page in .data/screenshots/.
func TestBrowserConsole(t *testing.T) {
	id := draftedCollaboration(t, map[string]any{"live_window": "3s", "verification_interval": "1s"})
	campaign := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).str("campaign_id")
	waitForListed(t, "campaign_id="+campaign, id, "in_review")
	board, card := "/console/campaigns/"+campaign, `a[href="/console/collaborations/`+id+`"]`
	fresh := newCreator(t)
	approve(t, campaign, fresh)

	tab := openConsoleTab(t)
	tab.signIn("campaigns", opsKey, "ops")
	tab.pageUntil("campaigns", `a[href="`+board+`"]`, `a[href^="/console?after="]`)
	tab.click("board", `table a[href="`+board+`"]`)
	tab.check("board", "the card in the in review column", inColumn("in_review", card))
	tab.check("board", "the roster creator offered", fmt.Sprintf(`document.querySelector('#start-roster option[value=%q]') !== null`, fresh))
	tab.do("board", chromedp.SendKeys(chromedp.ID("start-creator"), fresh))
	tab.click("started", `#form-start button[type=submit]`)
	tab.hasText("started", "#stage", "outreach")
	tab.check("started", "the notice", `document.querySelector("p.notice")?.textContent.startsWith("Collaboration started")`)
	tab.click("board", `p.sub a[href="`+board+`"]`)
	tab.click("collaboration", `section[data-stage="in_review"] `+card)
	tab.hasText("collaboration", "#stage", "in review")

	tab.click("signed-out", `form.signout button[type=submit]`)
	tab.signIn("reviewer", reviewerKey, "reviewer")
	tab.click("review-queue", `nav a[href="/console/reviews"]`)
	tab.click("review", `table.queue `+card)
	tab.do("review", chromedp.Click(chromedp.CSS(`#form-review input[name=decision][value=approve]`)),
		chromedp.SendKeys(chromedp.CSS("#review-comments"), "ship it"))
	tab.click("reviewed", `#form-review button[type=submit]`)
	tab.check("reviewed", "the approval on the page", `document.querySelector("p.review.approve")?.textContent.includes("approve by rev")`)
	tab.click("board-reviewed", `p.sub a[href="`+board+`"]`)
	// The board is drawn by the server: the card moves when the workflow has recorded the
	// approval and the page is loaded again.
	tab.waitFor("board-reviewed", "the card in the awaiting post column",
		inColumn("awaiting_post", card)+" && !"+inColumn("in_review", card), reload)

	fee := pendingFee(t, id)
	tab.click("signed-out", `form.signout button[type=submit]`)
	tab.signIn("finance", financeKey, "finance")
	tab.click("payout-queue", `nav a[href="/console/payouts"]`)
	row := "#payout-" + fee
	tab.pageUntil("payout-queue", row, `a[href^="/console/payouts?after="]`)
	tab.do("payout-queue", chromedp.SendKeys(chromedp.CSS(row+` input[name=reference]`), "BANK-77"))
	// The API answers 202 when the workflow took the confirmation but has not finished
	// with it in time; the queue then asks for the same confirmation again.
	confirm := chromedp.Click(chromedp.CSS(row + ` button[type=submit]`))
	tab.load("payout-confirmed", confirm)
	tab.waitFor("payout-confirmed", "the confirmation", `document.querySelector("p.notice")?.textContent === "Payout confirmed."`, confirm)
	tab.open("collaboration-paid", "/console/collaborations/"+id)
	tab.waitFor("collaboration-paid", "the fee shown paid", `[...document.querySelectorAll('section[aria-labelledby="h-payouts"] tbody tr')]`+
		`.some((r) => r.cells[0].textContent === "fee" && r.cells[2].textContent === "paid" && r.cells[3].textContent === "BANK-77")`, reload)
	eventually(t, "the ledger row paid", func() bool {
		p, err := st.PayoutByID(t.Context(), fee)
		return err == nil && p.Status == store.PayoutPaid && p.Reference == "BANK-77" && p.ConfirmedBy == "fin"
	})
}

// pendingFee takes an approved collaboration through its post to the payout stage and
// returns the id of the fee that waits for finance.
func pendingFee(t *testing.T, id string) string {
	t.Helper()
	code := must(t, 200, call(t, "GET", "/v1/collaborations/"+id, opsKey, nil)).Body["attribution"].(map[string]any)["code"].(string)
	postURL, _ := postPage(t, id, code)
	must(t, 200, call(t, "POST", "/v1/collaborations/"+id+"/posts", opsKey, fmt.Sprintf(`{"url":%q}`, postURL)))
	waitForStage(t, id, "payout")
	var fee string
	eventually(t, "the pending fee", func() bool {
		for _, item := range must(t, 200, call(t, "GET", "/v1/payouts?status=pending&collaboration_id="+id, financeKey, nil)).Body["items"].([]any) {
			if p := item.(map[string]any); p["kind"] == "fee" {
				fee = p["id"].(string)
			}
		}
		return fee != ""
	})
	return fee
}

// reload loads the page again; unlike chromedp.Reload it does not wait itself, as load
// waits for the page.
var reload = chromedp.Evaluate[chromedp.Void]("location.reload()")

// inColumn is a script that is true when the board's stage column holds the card.
func inColumn(stage, card string) string {
	return fmt.Sprintf("(document.querySelector(%q) !== null)", `section[data-stage="`+stage+`"] `+card)
}

// consoleTab is one headless Chromium tab on the console. It keeps the last screenshot of
// each step, written to screenshotDir when the test fails.
type consoleTab struct {
	t     *testing.T
	ctx   context.Context
	shots map[string][]byte
	order []string
}

// openConsoleTab starts Chromium with a fresh profile. Without Chromium the test is
// skipped, unless COLLABFLOW_REQUIRE_BROWSER is set (make test-browser sets it), so that
// CI fails rather than passes without having driven a browser.
func openConsoleTab(t *testing.T) *consoleTab {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("COLLABFLOW_REQUIRE_BROWSER") != "" {
			t.Fatal("no chromium, chromium-browser or google-chrome on PATH, and COLLABFLOW_REQUIRE_BROWSER is set")
		}
		t.Skip("no chromium on PATH: make test-browser installs it")
	}
	profile := t.TempDir()
	// Wide enough that a board screenshot shows the columns on both sides of in review.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.UserDataDir(profile),
		chromedp.WindowSize(1920, 1080))
	if os.Geteuid() == 0 {
		// Chromium refuses to start its sandbox as root, which CI is.
		opts = append(opts, chromedp.NoSandbox)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancelAlloc)
	t.Cleanup(cancel)
	c := &consoleTab{t: t, ctx: ctx, shots: map[string][]byte{}}
	dir, err := filepath.Abs(screenshotDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Chromium %s; if the test fails, each page's screenshot is saved in %s", path, dir)
	// Registered after the browser's cancel, so it runs first, while the tab is open.
	t.Cleanup(func() {
		if t.Failed() {
			c.saveScreenshots(dir)
		}
	})
	// The first action starts the browser; its context has no timeout, as a timeout would
	// end the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return c
}

// chromiumPath finds Debian's chromium, or another Chrome, on PATH.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	return ""
}

// do runs actions on the tab within browserWait and fails the test at step if one fails.
func (c *consoleTab) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		c.t.Fatalf("%s: %v", step, err)
	}
}

// eval runs a script and reads its result as a boolean (an absent element's
// undefined is false).
func (c *consoleTab) eval(step, script string) bool {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, browserWait)
	defer cancel()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("Boolean("+script+")"))
	if err != nil {
		c.t.Fatalf("%s: evaluate %s: %v", step, script, err)
	}
	return ok
}

// open loads a console path and keeps its screenshot as step.
func (c *consoleTab) open(step, path string) {
	c.t.Helper()
	c.do(step, chromedp.Navigate(baseURL+path))
	c.screenshot(step)
}

// click clicks the element, waits for the page that it loads and keeps its screenshot as
// step.
func (c *consoleTab) click(step, selector string) {
	c.t.Helper()
	c.load(step, chromedp.Click(chromedp.CSS(selector)))
	c.screenshot(step)
}

// load runs an action that leads to another page, waits until that page has loaded and
// fails the test at step when it does not, or is an error page.
func (c *consoleTab) load(step string, action chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, browserWait)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, action)
	if err != nil {
		c.t.Fatalf("%s: load: %v", step, err)
	}
	if resp != nil && resp.Status >= 400 {
		c.t.Fatalf("%s: %s answered %d", step, resp.URL, resp.Status)
	}
}

// signIn signs in with key through the sign-in form that the console sends a signed-out
// browser to, and checks the header names the role.
func (c *consoleTab) signIn(step, key, role string) {
	c.t.Helper()
	c.open(step, "/console")
	c.do(step, chromedp.SendKeys(chromedp.ID("key"), key))
	c.click(step, `form.signin button[type=submit]`)
	c.hasText(step, "header .who .role", role)
}

// hasText fails the test when the element's text is not want.
func (c *consoleTab) hasText(step, selector, want string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, browserWait)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selector)))
	if err != nil || strings.TrimSpace(got) != want {
		c.t.Fatalf("%s: %s shows %q, want %q (%v)", step, selector, got, want, err)
	}
}

// check fails the test when the script is not true on the page as it is.
func (c *consoleTab) check(step, what, script string) {
	c.t.Helper()
	if !c.eval(step, script) {
		c.t.Fatalf("%s: no %s", step, what)
	}
}

// pageUntil follows a list's next-page links until the element is on the page: other
// tests' campaigns and payouts can come first.
func (c *consoleTab) pageUntil(step, selector, next string) {
	c.t.Helper()
	exists := func(sel string) bool { return c.eval(step, fmt.Sprintf("document.querySelector(%q) !== null", sel)) }
	for !exists(selector) {
		if !exists(next) {
			c.t.Fatalf("%s: %s on no page", step, selector)
		}
		c.click(step, next)
	}
}

// waitFor runs again until the script is true on the page, or fails the test after
// browserWait: a page drawn by the server shows a change only when loaded again.
func (c *consoleTab) waitFor(step, what, script string, again chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	deadline := time.Now().Add(browserWait)
	for !c.eval(step, script) {
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: timed out waiting for %s", step, what)
		}
		c.load(step, again)
	}
	c.screenshot(step)
}

// screenshot keeps a full-page PNG of the tab as step's, replacing an earlier one.
func (c *consoleTab) screenshot(step string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		c.t.Fatalf("%s: screenshot: %v", step, err)
	}
	if _, ok := c.shots[step]; !ok {
		c.order = append(c.order, step)
	}
	c.shots[step] = png
}

// saveScreenshots writes the kept screenshots, and one of the page the test failed on,
// into dir, replacing an earlier run's.
func (c *consoleTab) saveScreenshots(dir string) {
	ctx, cancel := context.WithTimeout(c.ctx, browserWait)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		c.shots["failed-here"], c.order = png, append(c.order, "failed-here")
	} else {
		c.t.Logf("screenshot of the last page: %v", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		c.t.Logf("clear %s: %v", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Logf("screenshots: %v", err)
		return
	}
	for _, step := range c.order {
		path := filepath.Join(dir, step+".png")
		if err := os.WriteFile(path, c.shots[step], 0o644); err != nil {
			c.t.Logf("screenshot %s: %v", step, err)
			continue
		}
		c.t.Logf("screenshot: %s", path)
	}
}
