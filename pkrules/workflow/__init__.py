"""The appraisal workflow: cycles, stages, deadlines, roles, appeals and an audited SQLite store.

Screens and commands use `pkrules.workflow.service.Workflow`; nothing else here is
meant to be called from outside (the CLI hooks live in `pkrules.workflow.commands`).
"""
