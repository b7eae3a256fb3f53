#!/usr/bin/env bash
# The main job on embedded defaults: build a realistic demo report tree in ./demo, show what
# the Report Center sees (overview) and what a purge would remove (a dry run), then run that
# purge as a Prefect flow (approved with --approve-as) and verify the audit chain it wrote.
# Everything is written under ./demo (recreated on each run); nothing else is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
PY="$(pwd)/$PY"
rm -rf demo && mkdir demo && cd demo

say() { printf '\n== %s\n$ %s\n' "$1" "$2"; }

say "1. a demo report tree (300 reports, two years of history, signal-quality files, a model registry)" \
    "python -m bot_core.demo generate --reports 300"
"$PY" -m bot_core.demo generate --reports 300 > generated.json
"$PY" - <<'PYEOF'
import json
tree = json.load(open("generated.json"))
print(f"{tree['report_count']} reports, {tree['file_count']} files, {tree['total_bytes']:,} bytes in {tree['base_directory']}")
print("by category:", ", ".join(f"{k} {v}" for k, v in tree["reports_by_category"].items()))
for case in tree["edge_cases"]:
    print("  -", case)
PYEOF

say "2. overview: what the Report Center lists" \
    "python -m bot_core.reporting.ui_bridge overview --limit 3 > overview.json"
"$PY" -m bot_core.reporting.ui_bridge overview --limit 3 > overview.json
"$PY" - <<'PYEOF'
import json
data = json.load(open("overview.json"))
s = data["summary"]
print(f"{s['report_count']} reports, {s['total_size']:,} bytes of exports, "
      f"{s['invalid_summary_count']} invalid and {s['missing_summary_count']} missing summaries")
print(f"{'category':<28}{'reports':>8}{'bytes':>14}  latest update")
for c in data["categories"]:
    print(f"{c['id']:<28}{c['count']:>8}{c['total_size']:>14,}  {c['latest_updated_at']}")
print("newest:", ", ".join(r["relative_path"] for r in data["reports"]))
PYEOF

UNTIL="$(date -u -d '90 days ago' +%F)"
say "3. purge dry run: smoke reports last updated before $UNTIL (nothing is deleted)" \
    "python -m bot_core.reporting.ui_bridge purge --category smoke --until $UNTIL --dry-run > purge-preview.json"
"$PY" -m bot_core.reporting.ui_bridge purge --category smoke --until "$UNTIL" --dry-run > purge-preview.json
"$PY" - <<'PYEOF'
import json
data = json.load(open("purge-preview.json"))
print(f"status {data['status']}: {data['matched_count']} targets, {data['removed_files']} files, "
      f"{data['removed_directories']} directories, {data['removed_size']:,} bytes would be removed")
for target in data["targets"][:5]:
    print(f"  {target['status']:<8} {target['relative_path']}  ({target['removed_files']} files)")
sq = data["signal_quality_cleanup"]
print(f"signal quality: {sq['status']}, {sq['matched']} files at or before {sq['cutoff']} would be removed")
print(f"plan sha256 {data['plan_sha256']}")
PYEOF
say "4. the model registry the demo built: champions and their challengers" \
    "python -m bot_core.reporting.ui_bridge champion > champions.json"
"$PY" -m bot_core.reporting.ui_bridge champion > champions.json
"$PY" - <<'PYEOF'
import json
for model in json.load(open("champions.json"))["models"]:
    challengers = ", ".join(c["report"]["version"] for c in model["challengers"])
    print(f"{model['model_name']}: champion {model['champion']['version']}, challengers {challengers}")
PYEOF
say "5. the same purge as a Prefect flow: overview -> plan -> approval -> verified backup -> execution" \
    "python -m flows run purge --category smoke --until $UNTIL --approve-as demo-operator > flow.json"
# Prefect's embedded defaults: a temporary local API server on SQLite, kept under ./demo.
export PREFECT_HOME="$(pwd)/.prefect" PREFECT_SERVER_ANALYTICS_ENABLED=false
"$PY" -m flows run purge --category smoke --until "$UNTIL" --approve-as demo-operator > flow.json 2> flow.log
"$PY" -m bot_core.audit verify > verify.json || true
"$PY" - <<'PYEOF'
import json
run = json.load(open("flow.json"))
approval = run["approval"]
print(f"flow run {run['flow_run_id']}: {run['outcome']}: {run['message']}")
print(f"approved by {approval['approver']} ({approval['method']}) for plan {approval['plan_sha256'][:16]}...")
print("verified backups:", ", ".join(run.get("backup_ids") or []))
check = json.load(open("verify.json"))
records = check["records"]
print(f"audit chain: {records['status']}, {records['record_count']} records in {records['run_count']} run(s) under {records['store']}")
PYEOF
printf '\nFull JSON documents: demo/overview.json, demo/purge-preview.json, demo/champions.json, demo/flow.json, demo/verify.json\n'
