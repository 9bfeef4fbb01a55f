package tools

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/agentmv/agentmv/internal/fileio"
	"github.com/agentmv/agentmv/internal/secretscan"
)

// ---- read_repo_files ----

// GlobsInput is read_repo_files' input.
type GlobsInput struct {
	Globs []string `json:"globs" jsonschema:"description=Glob patterns relative to the project root (* and ? within a name; ** for any depth),minItems=1,maxItems=50"`
}

// SkippedFile is a file read_repo_files matched but did not return.
type SkippedFile struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// RepoFilesOutput is read_repo_files' result.
type RepoFilesOutput struct {
	Files map[string]string `json:"files"`
	// Skipped lists matched files not returned, with the reason (a name that marks secrets,
	// a private key inside, binary, outside the root, ...).
	Skipped []SkippedFile `json:"skipped,omitempty"`
	// Redacted lists returned files in which secrets were replaced by [REDACTED]: where and
	// what kind, never the secret.
	Redacted  []RedactedFile `json:"redacted,omitempty"`
	Truncated bool           `json:"truncated"`
}

// RedactedFile is a returned file whose secrets were replaced by [REDACTED].
type RedactedFile struct {
	Path    string     `json:"path"`
	Secrets []Withheld `json:"secrets"`
}

// Withheld is one secret read_repo_files withheld: its kind and line, never its value.
type Withheld struct {
	Kind string `json:"kind"`
	Line int    `json:"line"`
}

// deniedDirs are never walked (VCS, vendored and generated code, virtualenvs).
var deniedDirs = []string{".git", ".hg", ".svn", "vendor", "node_modules", ".venv", "venv", "__pycache__", ".idea", ".terraform"}

// deniedFile reports whether a file's name says it holds secrets (secretscan.DeniedName).
func deniedFile(name string) bool {
	_, denied := secretscan.DeniedName(name)
	return denied
}

// redactSlack is how far beyond the returned part of a file it is read and scanned, so a
// secret cut by the size limit is still recognised (and redacted) whole.
const redactSlack = 4 << 10

func (st *setupTools) readRepoFiles(ctx context.Context, in GlobsInput) (RepoFilesOutput, error) {
	out := RepoFilesOutput{Files: map[string]string{}}
	var pats [][]string
	for _, g := range in.Globs {
		g = filepath.ToSlash(strings.TrimSpace(g))
		g = strings.TrimPrefix(g, "./")
		if g == "" || strings.HasPrefix(g, "/") || filepath.IsAbs(g) || slices.Contains(strings.Split(g, "/"), "..") {
			return out, &ToolError{ErrorType: ErrNotAllowed,
				Message: fmt.Sprintf("glob %q leaves the project root", g),
				Hint:    "use patterns relative to the project root, without .. or a leading /"}
		}
		pats = append(pats, strings.Split(g, "/"))
	}
	root := st.cfg.Root
	total := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable entries are skipped
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if p != root && slices.Contains(deniedDirs, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		segs := strings.Split(rel, "/")
		matched := false
		for _, pat := range pats {
			if matchSegments(pat, segs) {
				matched = true
				break
			}
		}
		if !matched {
			return nil
		}
		if why, denied := secretscan.DeniedName(d.Name()); denied {
			out.Skipped = append(out.Skipped, SkippedFile{rel, "withheld: " + why})
			return nil
		}
		if len(out.Files) >= MaxRepoFiles || total >= MaxRepoBytes {
			out.Truncated = true
			return filepath.SkipAll
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			out.Skipped = append(out.Skipped, SkippedFile{rel, "broken link"})
			return nil
		}
		if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
			out.Skipped = append(out.Skipped, SkippedFile{rel, "links outside the project root"})
			return nil
		}
		realRel, _ := filepath.Rel(root, real)
		for _, seg := range strings.Split(filepath.ToSlash(realRel), "/") {
			if slices.Contains(deniedDirs, seg) || deniedFile(seg) {
				out.Skipped = append(out.Skipped, SkippedFile{rel, "links to a denied file"})
				return nil
			}
		}
		fi, err := os.Stat(real)
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		budget := min(MaxRepoFileBytes, MaxRepoBytes-total)
		data, err := fileio.ReadCapped(real, int64(budget+redactSlack))
		if err != nil {
			out.Skipped = append(out.Skipped, SkippedFile{rel, "unreadable"})
			return nil
		}
		cut := len(data) > budget
		for cut && len(data) > 0 && !utf8.Valid(data) { // a read cut inside a character
			data = data[:len(data)-1]
		}
		if !utf8.Valid(data) || slices.Contains(data, 0) {
			out.Skipped = append(out.Skipped, SkippedFile{rel, "binary"})
			return nil
		}
		// Redact before cutting to the budget, so a secret at the cut is seen whole.
		red := secretscan.Redact(string(data))
		if red.Withhold != "" {
			out.Skipped = append(out.Skipped, SkippedFile{rel, "withheld: " + red.Withhold + withheldLines(red.Findings)})
			return nil
		}
		if len(red.Findings) > 0 {
			rf := RedactedFile{Path: rel}
			for _, f := range red.Findings {
				rf.Secrets = append(rf.Secrets, Withheld{Kind: f.Kind, Line: f.Line})
			}
			out.Redacted = append(out.Redacted, rf)
		}
		text := red.Text
		if cut = cut || len(text) > budget; cut {
			text = text[:min(len(text), budget)]
			for len(text) > 0 && !utf8.ValidString(text) { // cut at a character boundary
				text = text[:len(text)-1]
			}
		}
		total += len(text)
		if cut {
			text += "\n... [truncated]"
			out.Truncated = true
		}
		out.Files[rel] = text
		return nil
	})
	return out, err
}

// withheldLines says on which lines the findings were: " (line 1)", " (lines 2, 5)".
func withheldLines(fs []secretscan.Finding) string {
	var lines []string
	for _, f := range fs {
		if l := strconv.Itoa(f.Line); !slices.Contains(lines, l) {
			lines = append(lines, l)
		}
	}
	switch len(lines) {
	case 0:
		return ""
	case 1:
		return " (line " + lines[0] + ")"
	}
	return " (lines " + strings.Join(lines, ", ") + ")"
}

// matchSegments matches path segments against pattern segments; "**" matches any number of
// segments (including none), other segments use path.Match rules.
func matchSegments(pat, segs []string) bool {
	if len(pat) == 0 {
		return len(segs) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(segs); i++ {
			if matchSegments(pat[1:], segs[i:]) {
				return true
			}
		}
		return false
	}
	if len(segs) == 0 {
		return false
	}
	if ok, _ := filepath.Match(pat[0], segs[0]); !ok {
		return false
	}
	return matchSegments(pat[1:], segs[1:])
}
