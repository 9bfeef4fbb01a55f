// Package demo embeds the demo shop project used by `agent-mv demo`: seed data for five
// tables in public and three curated views, one of them a view on a view.
package demo
