package tools

// PollableStdinChild marks the run of the test binary that TestPollableStdin starts: TestMain
// (exec_test.go) runs it without starting Postgres.
const PollableStdinChild = "AGENTMV_POLLABLE_STDIN_CHILD"
