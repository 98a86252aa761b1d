#!/usr/bin/env bash
# A tour of the engine on the bundled sample: check the reference policy, run its
# examples, evaluate the 40-employee sample population and explain one figure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pk=.venv/bin/pkrules
$pk check policies/sales_incentive.pk policies/sales_incentive.zh.pk
$pk test policies/sales_incentive.pk
echo
$pk run policies/sales_incentive.pk policies/sample/employees.csv --out out/results.csv --show
echo
$pk explain policies/sales_incentive.pk policies/sample/employees.csv E013 coef
