package tools_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentmv/agentmv/tools"
)

// TestReadRepoFilesWithholdsSecrets: over a real MCP session, read_repo_files never hands a
// secret to the setup agent. Files whose names say they hold secrets are skipped; files whose
// content holds one (a DSN with a password, a private key, cloud and chat tokens, a JWT, a
// password assignment) are redacted, or skipped when they are nothing but a key; the answer
// says what was withheld, where and why, and ordinary code comes back untouched.
func TestReadRepoFilesWithholdsSecrets(t *testing.T) {
	se := setupSession(t)
	const (
		dsnPassword = "s3cr3t-Dsn-pw"
		yamlPass    = "hunter2"
		awsKey      = "AKIAIOSFODNN7EXAMPLE"
		awsSecret   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
		ghToken     = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
		slackToken  = "xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx"
		jwt         = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
		keyBody     = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
		kvPassword  = "kv-Secret-9"
	)
	models := "class Order(models.Model):\n    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)\n    password_hash = models.CharField(max_length=128)\n    token_count = models.IntegerField()\n"
	files := map[string]string{
		"secrets.yaml":            "db_password: plain\n",
		"config/credentials.json": `{"user": "app", "password": "plain"}`,
		"deploy/docker.env":       "DATABASE_URL=postgres://app:" + dsnPassword + "@db:5432/app\n",
		"deploy/deploy_key":       "-----BEGIN OPENSSH PRIVATE KEY-----\n" + keyBody + "\n-----END OPENSSH PRIVATE KEY-----\n",
		"config/settings.yaml":    "db:\n  host: localhost\n  password: " + yamlPass + "\n  pool: 5\n",
		"app/aws.py":              "AWS_ACCESS_KEY_ID = \"" + awsKey + "\"\nAWS_SECRET_ACCESS_KEY = \"" + awsSecret + "\"\nREGION = 'eu-west-1'\n",
		"docs/notes.md":           "# Notes\nCI uses " + ghToken + " and posts with " + slackToken + ".\nSession: " + jwt + "\n",
		"app/db.py":               "DSN = 'host=db user=app password=" + kvPassword + " dbname=app'\nURL = 'postgres://app:" + dsnPassword + "@db/app'\n",
		"app/models.py":           models,
		"docker-compose.yml":      "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: " + yamlPass + "\n",
	}
	for name, body := range files {
		p := filepath.Join(se.root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := call(t, se.cs, "read_repo_files", map[string]any{"globs": []string{"**/*"}})
	raw := text(t, res)
	for _, secret := range []string{dsnPassword, yamlPass, awsKey, awsSecret, ghToken, slackToken, jwt, keyBody, kvPassword, "plain"} {
		if strings.Contains(raw, secret) {
			t.Errorf("read_repo_files returned the secret %q", secret)
		}
	}
	out := decode[tools.RepoFilesOutput](t, res)
	if out.Files["app/models.py"] != models {
		t.Errorf("ordinary code was changed or withheld: %q", out.Files["app/models.py"])
	}
	skipped := map[string]string{}
	for _, s := range out.Skipped {
		skipped[s.Path] = s.Reason
	}
	for path, why := range map[string]string{
		"secrets.yaml":            "name",
		"config/credentials.json": "name",
		"deploy/docker.env":       "name",
		"deploy/deploy_key":       "private key",
	} {
		if !strings.Contains(skipped[path], why) {
			t.Errorf("%s: skipped %q, want a reason mentioning %q (skipped: %v)", path, skipped[path], why, out.Skipped)
		}
		if _, ok := out.Files[path]; ok {
			t.Errorf("%s was returned", path)
		}
	}
	redacted := map[string][]tools.Withheld{}
	for _, r := range out.Redacted {
		redacted[r.Path] = r.Secrets
	}
	for path, wantLines := range map[string][]int{
		"config/settings.yaml": {3},
		"app/aws.py":           {1, 2},
		"docs/notes.md":        {2, 3},
		"app/db.py":            {1, 2},
		"docker-compose.yml":   {5},
	} {
		got := redacted[path]
		lines := map[int]bool{}
		for _, w := range got {
			lines[w.Line] = true
			if w.Kind == "" {
				t.Errorf("%s line %d: no kind of secret named", path, w.Line)
			}
		}
		for _, l := range wantLines {
			if !lines[l] {
				t.Errorf("%s: no redaction reported on line %d (got %+v)", path, l, got)
			}
		}
		if !strings.Contains(out.Files[path], "[REDACTED") {
			t.Errorf("%s: returned without a redaction marker: %q", path, out.Files[path])
		}
	}
	if !strings.Contains(out.Files["config/settings.yaml"], "host: localhost") || !strings.Contains(out.Files["app/aws.py"], "REGION = 'eu-west-1'") {
		t.Errorf("redaction removed more than the secrets:\n%s\n%s", out.Files["config/settings.yaml"], out.Files["app/aws.py"])
	}
}
