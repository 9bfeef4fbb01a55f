// Package scheduler keeps scheduled views within their refresh_every: it refreshes due views
// (and brings their descendants along) through refresh_view, in DAG order with bounded
// parallelism, backs off failing views, and lets any number of processes share one database
// without doubling the work (each refresh is claimed under the view's own refresh lock).
package scheduler
