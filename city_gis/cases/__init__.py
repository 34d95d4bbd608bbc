"""The case (案卷) workflow, deadlines and audit trail."""
