//go:build unix

package cluster_test

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const composePath = "../../deploy/compose.yaml"

// composeService is what TestComposeMirrorsHarness reads of a service.
type composeService struct {
	flags map[string]string // from command: "--name=x" → "--name": "x"
	env   map[string]string // from environment:
}

var (
	serviceRE = regexp.MustCompile(`^  ([a-z0-9-]+):\s*$`)
	flagRE    = regexp.MustCompile(`^\s+- (--[a-z_-]+)(?:=(.*))?$`)
	envRE     = regexp.MustCompile(`^      ([A-Z_]+): "?([^"]*)"?$`)
)

// readCompose reads the services' command flags and environment from
// deploy/compose.yaml. It is not a YAML parser: it reads the file's own
// plain layout (two-space indents, one "--flag=value" per list item),
// and fails when that layout yields no services.
func readCompose(t *testing.T) map[string]composeService {
	t.Helper()
	f, err := os.Open(composePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	services := map[string]composeService{}
	var cur *composeService
	inServices, inEnv := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "services:":
			inServices = true
			continue
		case len(line) > 0 && line[0] != ' ' && line[0] != '#':
			inServices = false
		}
		if !inServices {
			continue
		}
		if m := serviceRE.FindStringSubmatch(line); m != nil {
			s := composeService{flags: map[string]string{}, env: map[string]string{}}
			services[m[1]] = s
			cur = &s
			inEnv = false
			continue
		}
		if cur == nil {
			continue
		}
		if strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "     ") {
			inEnv = strings.TrimSpace(line) == "environment:"
		}
		if m := flagRE.FindStringSubmatch(line); m != nil {
			cur.flags[m[1]] = m[2]
		} else if m := envRE.FindStringSubmatch(line); m != nil && inEnv {
			cur.env[m[1]] = m[2]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(services) == 0 {
		t.Fatalf("%s: no services read", composePath)
	}
	return services
}

// argFlags turns an argument list ("--a", "x", "--b", ...) into flags.
func argFlags(args []string) map[string]string {
	flags := map[string]string{}
	for i := 0; i < len(args); i++ {
		name := args[i]
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			flags[name] = args[i+1]
			i++
			continue
		}
		flags[name] = ""
	}
	return flags
}

// TestComposeMirrorsHarness checks that deploy/compose.yaml runs what the
// tests run: the same nats-server flags, the same chatrooms flags (but
// the tests' own timings and data directories), node names a, b, c, and
// the variables of the nginx template. Only addresses differ.
func TestComposeMirrorsHarness(t *testing.T) {
	services := readCompose(t)
	// A topology that is never started: its flags are what matter.
	tp := &topology{t: t, opts: topoOptions{Grace: 3 * time.Second}}
	for i := range 3 {
		tp.nats = append(tp.nats, &natsServer{name: fmt.Sprintf("nats-%d", i+1), port: 1, route: 2, monitor: 3, storeDir: "/d", routes: "r"})
	}
	for _, name := range nodeNames {
		tp.nodes = append(tp.nodes, &chatNode{name: name, port: 4, dataDir: "/d"})
	}
	for _, s := range tp.nats {
		svc, ok := services[s.name]
		if !ok {
			t.Fatalf("compose.yaml has no service %s", s.name)
		}
		want := argFlags(s.args())
		if got, w := slices.Sorted(maps.Keys(svc.flags)), slices.Sorted(maps.Keys(want)); !slices.Equal(got, w) {
			t.Errorf("%s flags: compose %v, tests %v", s.name, got, w)
		}
		for _, f := range []string{"--name", "--jetstream", "--cluster_name", "--no_advertise"} {
			if svc.flags[f] != want[f] {
				t.Errorf("%s %s: compose %q, tests %q", s.name, f, svc.flags[f], want[f])
			}
		}
		if n := len(strings.Split(svc.flags["--routes"], ",")); n != 3 {
			t.Errorf("%s routes to %d servers, want 3", s.name, n)
		}
	}
	for _, n := range tp.nodes {
		svc, ok := services["chat-"+n.name]
		if !ok {
			t.Fatalf("compose.yaml has no service chat-%s", n.name)
		}
		want := argFlags(n.args(tp))
		for _, f := range testOnlyFlags {
			delete(want, f)
		}
		if got, w := slices.Sorted(maps.Keys(svc.flags)), slices.Sorted(maps.Keys(want)); !slices.Equal(got, w) {
			t.Errorf("chat-%s flags: compose %v, tests %v (tests only: %v)", n.name, got, w, testOnlyFlags)
		}
		for _, f := range []string{"--node-name", "--nats-replicas"} {
			if svc.flags[f] != want[f] {
				t.Errorf("chat-%s %s: compose %q, tests %q", n.name, f, svc.flags[f], want[f])
			}
		}
		if got := len(strings.Split(svc.flags["--nats-url"], ",")); got != 3 {
			t.Errorf("chat-%s has %d NATS URLs, want 3", n.name, got)
		}
	}
	// nginx: the environment fills exactly the template's variables.
	tmpl, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, m := range templateVarRE.FindAllStringSubmatch(string(tmpl), -1) {
		vars[m[1]] = true
	}
	env := services["nginx"].env
	if got, w := slices.Sorted(maps.Keys(env)), slices.Sorted(maps.Keys(vars)); !slices.Equal(got, w) {
		t.Errorf("nginx environment %v, template variables %v", got, w)
	}
	for _, n := range nodeNames {
		if want := "chat-" + n + ":8080"; env["NODE_"+strings.ToUpper(n)] != want {
			t.Errorf("NODE_%s = %q, want %q", strings.ToUpper(n), env["NODE_"+strings.ToUpper(n)], want)
		}
	}
}
