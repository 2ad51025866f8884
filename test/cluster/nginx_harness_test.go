//go:build unix

package cluster_test

import (
	"github.com/chatrooms/chatrooms/internal/proctest"

	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// nginxBin is where Debian's nginx-light puts nginx.
const nginxBin = "/usr/sbin/nginx"

// templatePath is the load balancer configuration deploy/compose.yaml
// uses, relative to this package.
const templatePath = "../../deploy/nginx.conf.template"

// nginx is the load balancer process in front of the three nodes.
type nginx struct {
	port   int
	prefix string // its -p prefix: config, pid, logs and temp files
	p      *proctest.Proc
}

func (lb *nginx) url() string { return fmt.Sprintf("http://127.0.0.1:%d", lb.port) }

func (lb *nginx) accessLog() string { return filepath.Join(lb.prefix, "access.log") }

// templateVarRE matches the ${NAME} variables envsubst fills in.
var templateVarRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// renderTemplate fills ${NAME} in the template as envsubst does, failing
// on a name vars lacks (envsubst would leave it, and nginx reject it).
func renderTemplate(text string, vars map[string]string) (string, error) {
	var missing []string
	out := templateVarRE.ReplaceAllStringFunc(text, func(m string) string {
		name := templateVarRE.FindStringSubmatch(m)[1]
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("template variables without a value: %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// start renders deploy/nginx.conf.template with the nodes' loopback
// addresses, wraps it in a main config whose every path (pid, logs, temp
// files) is under the prefix, and runs nginx in the foreground as a child
// of the test. It fails, never skips, when nginx is not installed.
func (lb *nginx) start(t *testing.T, tp *topology) {
	t.Helper()
	if _, err := os.Stat(nginxBin); err != nil {
		t.Fatalf("nginx is required by the cluster tests and was not found at %s (%v): run .ci/run, or apt-get install -y nginx-light", nginxBin, err)
	}
	tmpl, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatalf("read the load balancer config: %v", err)
	}
	vars := map[string]string{
		"LISTEN":     fmt.Sprintf("127.0.0.1:%d", lb.port),
		"ACCESS_LOG": lb.accessLog(),
	}
	for _, n := range tp.nodes {
		vars["NODE_"+strings.ToUpper(n.name)] = fmt.Sprintf("127.0.0.1:%d", n.port)
	}
	site, err := renderTemplate(string(tmpl), vars)
	if err != nil {
		t.Fatalf("%s: %v", templatePath, err)
	}
	for _, d := range []string{"", "temp"} {
		if err := os.MkdirAll(filepath.Join(lb.prefix, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(lb.prefix, "chatrooms.conf"), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		// Workers would otherwise drop to nobody, who cannot enter the
		// test's private temporary directory to write temp files.
		user = "user root;\n"
	}
	main := user + `worker_processes 1;
pid nginx.pid;
error_log stderr notice;
events {
    worker_connections 1024;
}
http {
    client_body_temp_path temp/body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    include chatrooms.conf;
}
`
	conf := filepath.Join(lb.prefix, "nginx.conf")
	if err := os.WriteFile(conf, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	// -e: the log nginx writes before it has read error_log.
	cmd := exec.Command(nginxBin, "-p", lb.prefix+"/", "-c", conf, "-e", "stderr", "-g", "daemon off;")
	lb.p = startProc(t, "nginx", cmd)
	c := &http.Client{Timeout: time.Second}
	waitFor(t, startTimeout, "nginx proxying /healthz", func() error {
		if lb.p.Exited() {
			t.Fatalf("nginx exited: %v\n%s", lb.p.Err(), lb.p.Output())
		}
		res, err := c.Get(lb.url() + "/healthz")
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		return nil
	})
}

// routes returns the access log's lines for requests whose sid is sid:
// "status=… upstream=…".
func (lb *nginx) routes(t *testing.T, sid string) []string {
	t.Helper()
	data, err := os.ReadFile(lb.accessLog())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, " sid="+sid+" ") {
			out = append(out, l)
		}
	}
	return out
}
