// Package yamledit edits a YAML document in place, keeping comments, blank lines, key order,
// flow style and quoting: edits change the yaml.v3 node tree and splice only the changed
// regions into the original text.
package yamledit
