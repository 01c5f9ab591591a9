#!/bin/sh
# Registers the search attributes collabflow's workflows set (workflows/names.go).
# `collabflow dev` does this itself for its embedded server.
set -eu
ns="${TEMPORAL_NAMESPACE:-default}"
for name in CollabStage CollabCampaignId CollabCreatorId; do
	if temporal operator search-attribute list --namespace "$ns" | grep -q "$name"; then
		echo "$name already registered"
	else
		temporal operator search-attribute create --namespace "$ns" --name "$name" --type Keyword
	fi
done
