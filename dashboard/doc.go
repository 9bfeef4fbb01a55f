// Package dashboard renders agentmv's state as one self-contained, deterministic HTML file:
// a status table, refresh history with sparklines, and an inline SVG lineage graph (no JS, no CDN).
package dashboard
