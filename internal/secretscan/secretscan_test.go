package secretscan

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDeniedName(t *testing.T) {
	denied := []string{
		".env", ".env.local", "app/.env.production", "secrets.yaml", "config/credentials.json",
		"db-credentials.yml", "docker.env", "prod.env", "server.pem", "tls.key", "id_rsa", "id_ed25519.pub",
		".htpasswd", ".pgpass", ".netrc", "terraform.tfstate", "prod.tfvars", "app.keystore", "putty.ppk",
		"client.ovpn", "my_secret.txt", ".git-credentials", "kubeconfig", "Secrets.JSON", "vault.yml",
		"private.txt",
	}
	for _, n := range denied {
		if why, ok := DeniedName(n); !ok || why == "" {
			t.Errorf("DeniedName(%q) = %q, %v; want denied with a reason", n, why, ok)
		}
	}
	allowed := []string{"models.py", "schema.sql", "README.md", "tokenizer.py", "settings.yaml", "docker-compose.yml",
		"environment.ts", "passport.js", "keys.go", "password_reset.html", "secretary.rb", "envelope.go"}
	for _, n := range allowed {
		if why, ok := DeniedName(n); ok {
			t.Errorf("DeniedName(%q) = %q: an ordinary file name is denied", n, why)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     string    // redacted text ("" when withheld)
		findings []Finding // kinds and lines
		withhold string    // substring of the reason
	}{
		{
			name:     "DSN with a password keeps its host",
			in:       "DATABASE_URL=postgres://app:s3cr3t-pw@db:5432/app?sslmode=disable\nPOOL=5\n",
			want:     "DATABASE_URL=postgres://app:[REDACTED]@db:5432/app?sslmode=disable\nPOOL=5\n",
			findings: []Finding{{"URL with password", 1}},
		},
		{
			name:     "low-entropy password in YAML",
			in:       "db:\n  host: localhost\n  password: hunter2\n",
			want:     "db:\n  host: localhost\n  password: [REDACTED]\n",
			findings: []Finding{{"password assignment", 3}},
		},
		{
			name:     "key=value DSN",
			in:       "dsn = 'host=db user=app password=kv-Secret-9 dbname=app'\n",
			want:     "dsn = 'host=db user=app password=[REDACTED] dbname=app'\n",
			findings: []Finding{{"password assignment", 1}},
		},
		{
			name:     "JSON and compose environment",
			in:       "{\"user\": \"app\", \"password\": \"pa55word!\"}\n  POSTGRES_PASSWORD: hunter2\n",
			want:     "{\"user\": \"app\", \"password\": \"[REDACTED]\"}\n  POSTGRES_PASSWORD: [REDACTED]\n",
			findings: []Finding{{"password assignment", 1}, {"password assignment", 2}},
		},
		{
			name: "AWS keys",
			in:   "AWS_ACCESS_KEY_ID = \"AKIAIOSFODNN7EXAMPLE\"\nAWS_SECRET_ACCESS_KEY = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"\nREGION = 'eu-west-1'\n",
			want: "AWS_ACCESS_KEY_ID = \"[REDACTED]\"\nAWS_SECRET_ACCESS_KEY = \"[REDACTED]\"\nREGION = 'eu-west-1'\n",
		},
		{
			name: "GitHub and Slack tokens and a JWT in prose",
			in:   "CI uses ghp_abcdefghijklmnopqrstuvwxyz0123456789 and xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx.\nSession: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c\n",
			want: "CI uses [REDACTED] and [REDACTED].\nSession: [REDACTED]\n",
		},
		{
			name:     "tokens next to punctuation, in parentheses and quotes",
			in:       "(ghp_abcdefghijklmnopqrstuvwxyz0123456789), \"glpat-abcdefghij0123456789\"; key=AIzaSyA1234567890abcdefghijklmnopqrstuv.\n",
			want:     "([REDACTED]), \"[REDACTED]\"; key=[REDACTED].\n",
			findings: []Finding{{"GitHub token", 1}, {"GitLab token", 1}, {"Google API key", 1}},
		},
		{
			name: "vendor keys and headers",
			in: "stripe sk_live_abcdefghijklmnop1234 npm npm_abcdefghijklmnopqrstuvwxyz0123456789\n" +
				"SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789abcdefg twilio SK0123456789abcdef0123456789abcdef\n" +
				"Authorization: Bearer abcdef0123456789abcdef\nhook https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX\n" +
				"openai sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD\n",
			want: "stripe [REDACTED] npm [REDACTED]\n[REDACTED] twilio [REDACTED]\nAuthorization: Bearer [REDACTED]\nhook [REDACTED]\nopenai [REDACTED]\n",
			findings: []Finding{{"Stripe key", 1}, {"npm token", 1}, {"SendGrid key", 2}, {"Twilio key", 2},
				{"authorization header", 3}, {"Slack webhook", 4}, {"OpenAI or Anthropic key", 5}},
		},
		{
			name: "a token prefix inside a longer identifier is not a token",
			in:   "AKIAIOSFODNN7EXAMPLEXYZ and myAKIAIOSFODNN7EXAMPLE and npm_abcdefghijklmnopqrstuvwxyz0123456789extra\n",
		},
		{
			name:     "PuTTY key",
			in:       "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",
			findings: []Finding{{"private key", 1}},
			withhold: "private key",
		},
		{
			name:     "a password URL inside an assignment is one secret",
			in:       "password: 'postgres://u:pw-in-url@h/db'\n",
			want:     "password: '[REDACTED]'\n",
			findings: []Finding{{"password assignment", 1}},
		},
		{
			name:     "private key",
			in:       "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n",
			findings: []Finding{{"private key", 1}},
			withhold: "private key",
		},
		{
			name: "ordinary code is left alone",
			in: "class Order(models.Model):\n    password_hash = models.CharField(max_length=128)\n    token_count = models.IntegerField()\n" +
				"password = request.form['password']\npwd = os.getcwd()\ntoken = None\npassword: ${DB_PASSWORD}\npassword: \"{{ vault_db }}\"\n" +
				"CREATE TABLE users (id serial, email text, password_hash text, api_token text);\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Redact(tt.in)
			if tt.withhold != "" {
				if !strings.Contains(res.Withhold, tt.withhold) || res.Text != "" {
					t.Errorf("Redact = %+v, want withheld (%s)", res, tt.withhold)
				}
			} else {
				want := tt.want
				if want == "" {
					want = tt.in
				}
				if res.Withhold != "" {
					t.Fatalf("withheld: %s (findings %+v)", res.Withhold, res.Findings)
				}
				if diff := cmp.Diff(want, res.Text); diff != "" {
					t.Errorf("redacted text (-want +got):\n%s", diff)
				}
				if want == tt.in && len(res.Findings) > 0 {
					t.Errorf("findings in clean text: %+v", res.Findings)
				}
			}
			for _, f := range tt.findings {
				found := false
				for _, g := range res.Findings {
					found = found || g == f
				}
				if !found {
					t.Errorf("findings %+v lack %+v", res.Findings, f)
				}
			}
		})
	}
}

func TestSecretColumn(t *testing.T) {
	tests := []struct {
		name string
		want string // "" = not secret
	}{
		{"password", "password"},
		{"password_hash", "password"},
		{"PasswordDigest", "password"},
		{"api_key", "api_key"},
		{"apiKey", "api_key"},
		{"APIKEY", "apikey"},
		{"refresh_token", "token"},
		{"stripeSecret", "secret"},
		{"ssn", "ssn"},
		{"card_number", "card_number"},
		{"otp_seed", "otp"},
		{"email", ""},
		{"created_at", ""},
		{"account_id", ""},
		{"passenger_count", ""},
		{"tokenizer", ""},
		{"keyword", ""},
		{"pinned", ""},
		{"region", ""},
	}
	for _, tt := range tests {
		got, ok := SecretColumn(tt.name)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("SecretColumn(%q) = %q, %v; want %q", tt.name, got, ok, tt.want)
		}
	}
}
