package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatrooms/chatrooms/internal/eiocodec"
	"github.com/chatrooms/chatrooms/internal/siocodec"
)

// Payload layout: "sNN-SSSSSSSSS-" (sender, sequence) then filler, so a
// receiver can check order and loss per sender at fixed offsets without
// decoding JSON.
const (
	idLen      = 14 // len("s00-000000000-")
	minPayload = idLen + 2
	alphabet   = "abcdefghijklmnopqrstuvwxyz" // the payload's filler, from seq on
)

// payloadFor is the event payload sender s sends as message seq (from 1;
// parseID reads it back as nine digits, never negative).
func payloadFor(dst []byte, s int, seq int64, size int) []byte {
	start := len(dst)
	dst = fmt.Appendf(dst, "s%02d-%09d-", s, seq)
	for len(dst)-start < size {
		dst = append(dst, alphabet[(seq+int64(len(dst)-start))%26])
	}
	return dst
}

// parseID reads sender and sequence from the start of a payload.
func parseID(p []byte) (s int, seq int64, ok bool) {
	if len(p) < idLen || p[0] != 's' || p[3] != '-' || p[13] != '-' {
		return 0, 0, false
	}
	for _, c := range p[1:3] {
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		s = s*10 + int(c-'0')
	}
	for _, c := range p[4:13] {
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		seq = seq*10 + int64(c-'0')
	}
	return s, seq, true
}

// receiver is one room member reading as fast as it can. Counters that
// the run watches are atomics; the rest belongs to its read goroutine
// until that ends.
type receiver struct {
	c        *rawConn
	count    atomic.Int64 // broadcast-back events received
	lastNano atomic.Int64 // when the last one arrived (end of a read batch)
	dead     atomic.Bool  // the connection ended before the run did
	_        [40]byte     // keep neighbours' counters off this cache line

	closeReason string
	lastSeq     []int64 // per sender
	orderErrs   int64   // sequence gaps, repeats or reordering
	malformed   int64
	sampled     int64
	sampleBad   int64
	firstBad    string
}

// readLoop counts broadcast-back events until the connection ends.
// stopping tells it that the end is the run's own doing.
func (r *receiver) readLoop(prefix []byte, payloadSize int, stopping *atomic.Bool) {
	var expect []byte
	for {
		op, p, err := r.c.readFrame()
		if err != nil {
			if !stopping.Load() {
				r.dead.Store(true)
				r.closeReason = err.Error()
				var ci *closeInfo
				if errors.As(err, &ci) {
					r.closeReason = fmt.Sprintf("close %d %s", ci.code, ci.reason)
				}
			}
			return
		}
		if op != ws.OpText {
			continue
		}
		if isPing(p) {
			if err := r.c.pong(); err != nil {
				continue // the read side will see the failure
			}
			continue
		}
		if !bytes.HasPrefix(p, prefix) {
			continue // the connection's "auth" event and the like
		}
		s, seq, ok := parseID(p[len(prefix):])
		if !ok || s >= len(r.lastSeq) {
			r.malformed++
			continue
		}
		if seq != r.lastSeq[s]+1 {
			r.orderErrs++
		}
		r.lastSeq[s] = seq
		n := r.count.Add(1)
		if n == 1 || n%1024 == 0 {
			expect = append(payloadFor(append(expect[:0], prefix...), s, seq, payloadSize), '"', ']')
			r.sampled++
			if err := verifySample(p, expect); err != nil {
				r.sampleBad++
				if r.firstBad == "" {
					r.firstBad = err.Error()
				}
			}
		}
		if r.c.br.Buffered() == 0 {
			r.lastNano.Store(time.Now().UnixNano())
		}
	}
}

// verifySample checks one received message fully: byte for byte against
// what was sent, and through the Socket.IO codec.
func verifySample(got, want []byte) error {
	if !bytes.Equal(got, want) {
		return fmt.Errorf("payload mismatch: got %.80q want %.80q", got, want)
	}
	e, err := eiocodec.DecodePacket(got)
	if err != nil || e.Type != eiocodec.Message {
		return fmt.Errorf("sample is not an engine.io message: %.32q", got)
	}
	p, err := siocodec.ParsePacket(e.Data, siocodec.DecoderOptions{})
	if err != nil {
		return fmt.Errorf("parse sample: %w", err)
	}
	name, err := siocodec.EventName(p.Data)
	if err != nil || p.Type != siocodec.Event || name != "broadcast-back" {
		return fmt.Errorf("sample is %s %q, want EVENT broadcast-back", p.Type, name)
	}
	args, err := siocodec.SplitArgs(p.Data)
	if err != nil || len(args) != 2 {
		return fmt.Errorf("sample has %d elements, want 2", len(args))
	}
	return nil
}

// sender emits "broadcast" (room, payload) in batches, staying at most
// window messages ahead of the slowest live receiver.
type sender struct {
	c    *rawConn
	id   int
	sent atomic.Int64
	err  error
}

type broadcastRun struct {
	cfg       *config
	receivers []*receiver
	senders   []*sender
	stopping  atomic.Bool
}

// totalSent is the number of messages all senders have written.
func (b *broadcastRun) totalSent() int64 {
	var n int64
	for _, s := range b.senders {
		n += s.sent.Load()
	}
	return n
}

// slowest returns the smallest count of a live receiver and how many are
// live.
func (b *broadcastRun) slowest() (int64, int) {
	low, live := int64(-1), 0
	for _, r := range b.receivers {
		if r.dead.Load() {
			continue
		}
		live++
		if n := r.count.Load(); low < 0 || n < low {
			low = n
		}
	}
	return low, live
}

func (b *broadcastRun) send(ctx context.Context, s *sender, end time.Time, quota int64) {
	cfg := b.cfg
	room, _ := json.Marshal(cfg.room)
	batch := int64(max(1, min(16, cfg.window/4)))
	var pkt, frames []byte
	var seq int64
	for seq < quota && time.Now().Before(end) && ctx.Err() == nil {
		// Wait (bounded by end) until the slowest receiver is close enough.
		for ctx.Err() == nil && time.Now().Before(end) {
			low, live := b.slowest()
			if live == 0 {
				s.err = errors.New("every receiver is gone")
				return
			}
			if b.totalSent()-low+batch <= int64(cfg.window) {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		n := min(batch, quota-seq)
		frames = frames[:0]
		for range n {
			seq++
			pkt = append(sioHeader(pkt[:0], siocodec.Event, "/", siocodec.NoID), `["broadcast",`...)
			pkt = append(pkt, room...)
			pkt = append(pkt, ',', '"')
			pkt = payloadFor(pkt, s.id, seq, cfg.payload)
			pkt = append(pkt, '"', ']')
			frames = eiocodec.AppendClientFrame(frames, ws.OpText, pkt)
		}
		if err := s.c.writeBatch(frames); err != nil {
			s.err = fmt.Errorf("sender %d: write: %w", s.id, err)
			return
		}
		s.sent.Add(n)
	}
}

// drainSender reads what the server sends a sender (pings, its "auth"
// event) so that its connection stays healthy.
func drainSender(s *sender) {
	for {
		op, p, err := s.c.readFrame()
		if err != nil {
			return
		}
		if op == ws.OpText && isPing(p) {
			_ = s.c.pong()
		}
	}
}

func runBroadcast(ctx context.Context, cfg *config, stdout io.Writer, log *slog.Logger) error {
	b := &broadcastRun{cfg: cfg}
	target := wsURL(cfg.baseURL)
	d := newDialers(cfg.localAddrs)
	defer func() {
		b.stopping.Store(true)
		for _, r := range b.receivers {
			r.c.close()
		}
		for _, s := range b.senders {
			s.c.close()
		}
	}()

	// Receivers: connect and join, cfg.dialConc at a time.
	setupStart := time.Now()
	b.receivers = make([]*receiver, cfg.receivers)
	if err := parallel(ctx, cfg.receivers, cfg.dialConc, func(ctx context.Context, i int) error {
		c, err := dialJoin(ctx, target, d, cfg.room)
		if err != nil {
			return fmt.Errorf("receiver %d: %w", i, err)
		}
		b.receivers[i] = &receiver{c: c, lastSeq: make([]int64, cfg.senders)}
		return nil
	}); err != nil {
		b.receivers = slices.DeleteFunc(b.receivers, func(r *receiver) bool { return r == nil })
		return err
	}
	b.senders = make([]*sender, cfg.senders)
	if err := parallel(ctx, cfg.senders, cfg.dialConc, func(ctx context.Context, i int) error {
		c, err := dialJoin(ctx, target, d, "")
		if err != nil {
			return fmt.Errorf("sender %d: %w", i, err)
		}
		b.senders[i] = &sender{c: c, id: i}
		return nil
	}); err != nil {
		b.senders = slices.DeleteFunc(b.senders, func(s *sender) bool { return s == nil })
		return err
	}
	log.Info("connected", "receivers", cfg.receivers, "senders", cfg.senders, "elapsed", time.Since(setupStart).Round(time.Millisecond))

	prefix := append(sioHeader(nil, siocodec.Event, "/", siocodec.NoID), `["broadcast-back","`...)
	var readers sync.WaitGroup
	for _, r := range b.receivers {
		readers.Go(func() { r.readLoop(prefix, cfg.payload, &b.stopping) })
	}
	for _, s := range b.senders {
		readers.Go(func() { drainSender(s) })
	}
	// stopReaders closes every connection and waits for the readers;
	// it runs once, before the results are read or on an early return.
	stopReaders := sync.OnceFunc(func() {
		b.stopping.Store(true)
		for _, r := range b.receivers {
			_ = r.c.conn.Close()
		}
		for _, s := range b.senders {
			_ = s.c.conn.Close()
		}
		readers.Wait()
	})
	defer stopReaders()

	load0 := loadAvg()
	cpu0, cpuErr := procCPU(cfg.serverPID)
	own0 := ownCPU()
	start := time.Now()
	end := start.Add(cfg.duration)

	// Per-second samples of the deliveries so far.
	var samples []int64
	monDone := make(chan struct{})
	monStop := make(chan struct{})
	go func() {
		defer close(monDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for range int(cfg.duration/time.Second) + 60 {
			select {
			case <-t.C:
				var n int64
				for _, r := range b.receivers {
					n += r.count.Load()
				}
				samples = append(samples, n)
			case <-monStop:
				return
			}
		}
	}()

	var sendWG sync.WaitGroup
	for i, s := range b.senders {
		quota := cfg.maxMessages / int64(cfg.senders)
		if int64(i) < cfg.maxMessages%int64(cfg.senders) {
			quota++
		}
		sendWG.Go(func() { b.send(ctx, s, end, quota) })
	}
	sendWG.Wait()
	sendEnd := time.Now()
	sent := b.totalSent()

	// Drain: wait until every live receiver has everything, bounded.
	drainLimit := time.Now().Add(10 * time.Second)
	for time.Now().Before(drainLimit) && ctx.Err() == nil {
		if low, live := b.slowest(); live == 0 || low >= sent {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(monStop)
	<-monDone
	cpu1, _ := procCPU(cfg.serverPID)
	own1 := ownCPU()

	var delivered, lastNano int64
	for _, r := range b.receivers {
		delivered += r.count.Load()
		lastNano = max(lastNano, r.lastNano.Load())
	}
	last := time.Unix(0, lastNano)
	if lastNano == 0 {
		last = time.Now()
	}
	elapsed := last.Sub(start)

	// Stop the readers before reading what only they wrote.
	stopReaders()

	var (
		lost, undeliveredDropped                 int64
		orderErrs, malformed, sampled, sampleBad int64
		dropped                                  int
		reasons                                  = map[string]int{}
		firstBad                                 string
	)
	for _, r := range b.receivers {
		missing := sent - r.count.Load()
		if r.dead.Load() {
			dropped++
			reasons[r.closeReason]++
			undeliveredDropped += missing
		} else {
			lost += missing
		}
		orderErrs += r.orderErrs
		malformed += r.malformed
		sampled += r.sampled
		sampleBad += r.sampleBad
		if firstBad == "" {
			firstBad = r.firstBad
		}
	}
	var sendErrs []string
	for _, s := range b.senders {
		if s.err != nil {
			sendErrs = append(sendErrs, s.err.Error())
		}
	}

	w := bufio.NewWriter(stdout)
	defer w.Flush()
	rate := float64(delivered) / elapsed.Seconds()
	frameLen := len(prefix) + cfg.payload + 2
	fmt.Fprintf(w, "broadcast: receivers=%d senders=%d payload=%dB (engine.io message %dB) window=%d duration=%s\n",
		cfg.receivers, cfg.senders, cfg.payload, frameLen, cfg.window, cfg.duration)
	fmt.Fprintf(w, "broadcast: sent=%d in %s (%.0f msg/s); delivered=%d of %d expected; first to last delivery %s\n",
		sent, sendEnd.Sub(start).Round(time.Millisecond), float64(sent)/sendEnd.Sub(start).Seconds(),
		delivered, sent*int64(cfg.receivers), elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "broadcast: per-second deliveries %s\n", perSecond(samples))
	fmt.Fprintf(w, "broadcast: load average at start %s, at end %s\n", load0, loadAvg())
	fmt.Fprintf(w, "broadcast: lost=%d (live receivers) dropped_receivers=%d (missing %d deliveries) order_errors=%d malformed=%d samples_verified=%d bad=%d\n",
		lost, dropped, undeliveredDropped, orderErrs, malformed, sampled, sampleBad)
	for reason, n := range reasons {
		fmt.Fprintf(w, "broadcast: %d receivers dropped: %s\n", n, reason)
	}
	if firstBad != "" {
		fmt.Fprintf(w, "broadcast: first bad sample: %s\n", firstBad)
	}
	if cpuErr == nil && cfg.serverPID > 0 {
		fmt.Fprintf(w, "broadcast: server cpu %.2fs over %s = %.2f cores; chatload cpu %.2fs = %.2f cores\n",
			(cpu1 - cpu0).Seconds(), elapsed.Round(time.Millisecond), (cpu1-cpu0).Seconds()/elapsed.Seconds(),
			(own1 - own0).Seconds(), (own1-own0).Seconds()/elapsed.Seconds())
	}
	fmt.Fprintf(w, "RESULT broadcast receivers=%d payload=%d deliveries_per_s=%.0f steady_per_s=%.0f lost=%d dropped=%d\n",
		cfg.receivers, cfg.payload, rate, steady(samples), lost, dropped)

	var errs []error
	if len(sendErrs) > 0 {
		errs = append(errs, fmt.Errorf("senders failed: %s", strings.Join(sendErrs, "; ")))
	}
	if lost > 0 || orderErrs > 0 || malformed > 0 || sampleBad > 0 {
		errs = append(errs, fmt.Errorf("broadcast: %d lost, %d order errors, %d malformed, %d bad samples", lost, orderErrs, malformed, sampleBad))
	}
	if sent == 0 {
		errs = append(errs, errors.New("broadcast: nothing was sent"))
	}
	return errors.Join(errs...)
}

// perSecond formats the deliveries of each whole second.
func perSecond(samples []int64) string {
	var sb strings.Builder
	prev := int64(0)
	for i, n := range samples {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(strconv.FormatInt(n-prev, 10))
		prev = n
	}
	return "[" + sb.String() + "]"
}

// steady is the median per-second rate of the full seconds, leaving out
// the first and last (ramp-up, drain); 0 with fewer than three samples.
func steady(samples []int64) float64 {
	if len(samples) < 3 {
		return 0
	}
	var d []int64
	for i := 1; i < len(samples)-1; i++ {
		d = append(d, samples[i]-samples[i-1])
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return float64(d[len(d)/2])
}

// dialJoin connects a raw client and, unless room is "", joins room. A
// busy server may miss the test server's 1 s connect timeout, so it tries
// up to dialAttempts times, each bounded to 15 s.
func dialJoin(ctx context.Context, target string, d *dialers, room string) (*rawConn, error) {
	var err error
	for range dialAttempts {
		var c *rawConn
		if c, err = dialJoinOnce(ctx, target, d, room); err == nil || ctx.Err() != nil {
			return c, err
		}
	}
	return nil, fmt.Errorf("%d attempts: %w", dialAttempts, err)
}

func dialJoinOnce(ctx context.Context, target string, d *dialers, room string) (*rawConn, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := dialRaw(ctx, target, d.dial)
	if err != nil || room == "" {
		return c, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.conn.SetDeadline(dl)
	}
	if err := c.join(room); err != nil {
		c.close()
		return nil, err
	}
	_ = c.conn.SetDeadline(time.Time{})
	return c, nil
}

// parallel runs fn for 0..n-1, at most conc at once, and returns the
// first error (the others still finish).
func parallel(ctx context.Context, n, conc int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, conc)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = context.Cause(ctx)
	}
	return first
}

// procCPU is the user+system CPU time of process pid so far.
func procCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, errors.New("no pid")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)) //nolint:gosec // a /proc path built from a pid
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// ownCPU is this process's user+system CPU time so far.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
