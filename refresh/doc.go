// Package refresh refreshes managed views through the SECURITY DEFINER function: one view,
// or all of them in dependency order with a bounded pool; and reports status and freshness.
package refresh
