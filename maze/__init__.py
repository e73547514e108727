"""The run command: execute every task of the maze in order and summarise what each produced."""
