package reliability_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/agentmv/agentmv/internal/testutil"
)

// Broken inputs that agent-mv apply once accepted: an oversized materialize.yaml, an empty
// description, an SQL reserved word as a view name. Each must now be one clear error with
// the database and the YAML unchanged.
var gapCases = []badCase{
	// No size limit on materialize.yaml (SQL files have MaxSQLFileBytes = 1 MiB): a 20 MB
	// file is read and parsed whole (~3-5 s here) and accepted.
	{"yaml_huge_file", func(pr *project) {
		pr.write("materialize.yaml", string(pr.read("materialize.yaml"))+"# "+strings.Repeat("x", 20<<20)+"\n")
	}, []string{"materialize.yaml"}},
	// `description: ""` passes the "description is required" check and is stored empty.
	{"description_empty", yamlEdit("description: totals per name", `description: ""`), []string{"materialize.yaml", "description"}},
	// A reserved SQL keyword as a view name creates agent_mv."select"; agents must then quote it.
	{"name_reserved_word", addView("select"), []string{"materialize.yaml", "select"}},
}

func TestBadInputOnceAccepted(t *testing.T) {
	t.Parallel()
	runBadCases(t, gapCases)
}

// A request with a wrong token is rejected with 401 and logged, without the token.
func TestHTTPRejectionLogged(t *testing.T) {
	t.Parallel()
	pr := mcpProject(t)
	srv := startHTTPServer(t, pr, []string{"AGENTMV_TEST_MCP_TOKEN=right-token"}, "--token-env", "AGENTMV_TEST_MCP_TOKEN")
	req, err := http.NewRequest(http.MethodPost, srv.url, strings.NewReader(initializeBody))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer wrong-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", resp.StatusCode)
	}
	// The server may log after it has answered: wait for the line rather than a fixed time.
	testutil.WaitFor(t, testutil.Wait, "the server to log the rejected request (status=401)", func() (bool, error) {
		return strings.Contains(srv.log.String(), "status=401"), nil
	})
	log := srv.log.String()
	if strings.Contains(log, "wrong-token") || strings.Contains(log, "right-token") {
		t.Errorf("the log contains a token:\n%s", log)
	}
}
