// Package testutil holds what every package's tests share and nothing else: golden files
// (-update), the "skip locally, fail under CI=true" rule, and waits that poll real state.
package testutil
