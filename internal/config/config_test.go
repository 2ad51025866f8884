package config

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func load(args []string, env map[string]string) (*Config, error) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	return Load(fs, args, func(k string) string { return env[k] }, io.Discard)
}

func TestLoadPrecedence(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c *Config)
	}{
		{"defaults", nil, nil, func(t *testing.T, c *Config) {
			if c.Addr != ":8080" || c.DataDir != "./data" || c.PingInterval != 25*time.Second || c.PingTimeout != 20*time.Second ||
				c.MaxPayload != 1_000_000 || c.LogLevel != slog.LevelInfo || c.Grace != time.Minute || c.NATSURL != "" ||
				c.GCIdlePercent != 25 {
				t.Errorf("unexpected defaults: %+v", c)
			}
		}},
		{"env fallback", nil, map[string]string{"CHATROOMS_ADDR": "127.0.0.1:9000", "CHATROOMS_DATA_DIR": "/tmp/x", "CHATROOMS_LOG_LEVEL": "debug"}, func(t *testing.T, c *Config) {
			if c.Addr != "127.0.0.1:9000" || c.DataDir != "/tmp/x" || c.LogLevel != slog.LevelDebug {
				t.Errorf("env not used: %+v", c)
			}
		}},
		{"gc idle percent from env, 0 is off", nil, map[string]string{"CHATROOMS_GC_IDLE_PERCENT": "0"}, func(t *testing.T, c *Config) {
			if c.GCIdlePercent != 0 {
				t.Errorf("gc idle percent = %d", c.GCIdlePercent)
			}
		}},
		{"flag beats env", []string{"--addr", "127.0.0.1:7000"}, map[string]string{"CHATROOMS_ADDR": "127.0.0.1:9000"}, func(t *testing.T, c *Config) {
			if c.Addr != "127.0.0.1:7000" {
				t.Errorf("addr = %q", c.Addr)
			}
		}},
		{"origins list", []string{"--allowed-origins", " https://a.example , http://b.example:3000,"}, nil, func(t *testing.T, c *Config) {
			if strings.Join(c.AllowedOrigins, "|") != "https://a.example|http://b.example:3000" {
				t.Errorf("origins = %q", c.AllowedOrigins)
			}
		}},
		{"protocol test timings", []string{"--protocol-test"}, nil, func(t *testing.T, c *Config) {
			if c.PingInterval != 300*time.Millisecond || c.PingTimeout != 200*time.Millisecond {
				t.Errorf("ping = %v/%v", c.PingInterval, c.PingTimeout)
			}
		}},
		{"protocol test keeps explicit timings", []string{"--protocol-test", "--ping-interval", "25s"}, map[string]string{"CHATROOMS_PING_TIMEOUT": "20s"}, func(t *testing.T, c *Config) {
			if c.PingInterval != 25*time.Second || c.PingTimeout != 20*time.Second {
				t.Errorf("ping = %v/%v", c.PingInterval, c.PingTimeout)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad addr", []string{"--addr", "nope"}, nil, "addr"},
		{"bad port", []string{"--addr", ":99999"}, nil, "bad port"},
		{"bad metrics addr", []string{"--metrics-addr", "nope"}, nil, "metrics-addr"},
		{"bad metrics port", []string{"--metrics-addr", "127.0.0.1:70000"}, nil, "metrics-addr"},
		{"bad env duration", nil, map[string]string{"CHATROOMS_PING_INTERVAL": "soon"}, "CHATROOMS_PING_INTERVAL"},
		{"bad level", []string{"--log-level", "loud"}, nil, "log level"},
		{"bad format", []string{"--log-format", "xml"}, nil, "log-format"},
		{"tiny payload", []string{"--max-payload", "10"}, nil, "max-payload"},
		{"queue below payload", []string{"--write-queue-bytes", "2000"}, nil, "write-queue-bytes"},
		{"negative write interval", []string{"--write-interval", "-1ms"}, nil, "write-interval"},
		{"long write interval", []string{"--write-interval", "2s"}, nil, "write-interval"},
		{"negative gc idle percent", []string{"--gc-idle-percent", "-1"}, nil, "gc-idle-percent"},
		{"huge gc idle percent", []string{"--gc-idle-percent", "1001"}, nil, "gc-idle-percent"},
		{"bad origin", []string{"--allowed-origins", "example.com"}, nil, "allowed origin"},
		{"stray argument", []string{"extra"}, nil, "unexpected argument"},
		{"unknown flag", []string{"--nope"}, nil, "not defined"},
		{"short grace", []string{"--presence-grace", "10ms"}, nil, "presence-grace"},
		{"bad nats-sync", []string{"--nats-sync", "often"}, nil, "nats-sync"},
		{"zero nats-sync", []string{"--nats-sync", "0s"}, nil, "nats-sync"},
		{"nats-sync with nats-url", []string{"--nats-url", "nats://127.0.0.1:4222", "--nats-sync", "always"}, nil, "embedded NATS server only"},
		{"nats-sync env with nats-url", []string{"--nats-url", "nats://127.0.0.1:4222"}, map[string]string{"CHATROOMS_NATS_SYNC": "1s"}, "embedded NATS server only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(tt.args, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	if _, err := load([]string{"-h"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("data-dir"); got != "CHATROOMS_DATA_DIR" {
		t.Fatalf("EnvName = %q", got)
	}
}

func TestLimitsAndProxies(t *testing.T) {
	c, err := load(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.LimitMessages.String() != "5/1s:20" || c.LimitTyping.String() != "2/1s:5" || c.LimitNewUsers.String() != "10/1m:20" ||
		c.MaxSessionsPerAddr != 50 || c.TypingFanout != 3*time.Second || len(c.TrustedProxies) != 0 || c.ClientAddrHeader != "X-Forwarded-For" {
		t.Errorf("unexpected defaults: %+v", c)
	}
	c, err = load([]string{"--limit-typing", "off", "--limit-new-users", "3/1h:1", "--client-addr-header", "forwarded"},
		map[string]string{"CHATROOMS_TRUSTED_PROXIES": "172.28.0.0/24, 127.0.0.1", "CHATROOMS_LIMIT_MESSAGES": "1/1s:2"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.LimitTyping.Off || c.LimitNewUsers.String() != "3/1h:1" || c.LimitMessages.String() != "1/1s:2" ||
		len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "127.0.0.1/32" || c.ClientAddrHeader != "Forwarded" {
		t.Errorf("flags or env not used: %+v", c)
	}
	for _, args := range [][]string{
		{"--limit-messages", "5"},
		{"--limit-messages", "0/1s:1"},
		{"--trusted-proxies", "nginx"},
		{"--client-addr-header", "X-Real-IP"},
		{"--max-sessions-per-addr", "-1"},
		{"--typing-fanout", "0s"},
	} {
		if _, err := load(args, nil); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestNATSSync(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want NATSSync
	}{
		{"default", nil, nil, NATSSync{Interval: time.Second}},
		{"always", []string{"--nats-sync", "always"}, nil, NATSSync{Always: true}},
		{"interval", []string{"--nats-sync", "2m"}, nil, NATSSync{Interval: 2 * time.Minute}},
		{"env", nil, map[string]string{"CHATROOMS_NATS_SYNC": "ALWAYS"}, NATSSync{Always: true}},
		{"flag over env", []string{"--nats-sync", "250ms"}, map[string]string{"CHATROOMS_NATS_SYNC": "always"}, NATSSync{Interval: 250 * time.Millisecond}},
		{"zero with nats-url", []string{"--nats-url", "nats://127.0.0.1:4222"}, nil, NATSSync{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if c.NATSSync != tt.want {
				t.Fatalf("NATSSync = %+v, want %+v", c.NATSSync, tt.want)
			}
		})
	}
}
