"""The infrastructure: git, processes, private state and the ledger."""
