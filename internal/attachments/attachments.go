package attachments

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/httpx"
)

// Defaults for the zero values of Config.
const (
	DefaultRetention        = 12 * time.Hour
	DefaultMaxSize          = 10 << 20
	DefaultUploadsPerMinute = 10
	DefaultUploadBurst      = 5
	DefaultDecodePixels     = 64_000_000
	DefaultTimeout          = 30 * time.Second
	DefaultServeMemory      = 256 << 20
)

// Blobs stores the bytes of attachments by name (names are
// [A-Za-z0-9_.-]). Objects expire by themselves after the retention
// period. Implementations are safe for concurrent use; cluster.Objects is
// the NATS JetStream one.
type Blobs interface {
	// Put stores everything r holds under name, replacing any object of
	// that name.
	Put(ctx context.Context, name string, r io.Reader) error
	// Get opens the named object for reading; the caller closes it. A
	// missing or expired object gives an error wrapping apierr.ErrNotFound.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// Delete removes the named object; deleting a missing one is not an
	// error.
	Delete(ctx context.Context, name string) error
}

// Authenticator resolves a bearer token to its user; chat.Service is one.
// An unknown token gives a *apierr.Error with apierr.CodeUnauthorized.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (chat.User, error)
}

// Config configures a Service. The zero value of every field selects its
// default.
type Config struct {
	// Retention is how long an attachment can be fetched after its upload
	// (default 12h). The blob store and metadata bucket must expire
	// entries no sooner (cluster.Options.AttachmentRetention).
	Retention time.Duration
	// MaxSize is the largest upload accepted, in bytes (default 10 MiB).
	// A re-encoded image may be up to twice as large.
	MaxSize int64
	// UploadsPerMinute and UploadBurst size each user's token bucket for
	// uploads on this node (default 10 a minute, burst 5).
	UploadsPerMinute float64
	UploadBurst      int
	// AdmitUpload, if set, is asked before each upload is read (e.g. a
	// limit per client address); an error refuses it.
	AdmitUpload func(r *http.Request) error
	// DecodePixels is this node's pixel budget: the summed width × height
	// of the images it decodes and encodes at once (default 64 million,
	// about 250 MB of RGBA pixels, which one image of MaxPixels fits in).
	// An upload waits until its image fits, while smaller ones that fit
	// go ahead of it; the wait ends with 503 when Timeout is over.
	DecodePixels int64
	// ServeMemory bounds the bytes of images this node holds in memory
	// for downloads in progress (default 256 MiB); past it, downloads
	// wait, then fail with 503 when Timeout is over.
	ServeMemory int64
	// Timeout bounds one request's storage calls and waits (default
	// 30s); it does not bound sending the answer.
	Timeout time.Duration
	// Body bounds how slowly an upload's body may arrive (zero fields:
	// httpx defaults, at least 10 KiB or the rest of the body per 10 s).
	Body httpx.BodyTimeouts
	// Metrics, if set, counts uploads stored and refused.
	Metrics Metrics
	// Logger receives internal errors (default: discard).
	Logger *slog.Logger
}

// Metrics receives the upload counts (package metrics implements it).
type Metrics interface {
	Uploaded(size int64)
	UploadRefused(code string)
	RateLimited(kind string)
}

type noMetrics struct{}

func (noMetrics) Uploaded(int64)       {}
func (noMetrics) UploadRefused(string) {}
func (noMetrics) RateLimited(string)   {}

func (c Config) withDefaults() Config {
	if c.Retention <= 0 {
		c.Retention = DefaultRetention
	}
	if c.MaxSize <= 0 {
		c.MaxSize = DefaultMaxSize
	}
	if c.UploadsPerMinute <= 0 {
		c.UploadsPerMinute = DefaultUploadsPerMinute
	}
	if c.UploadBurst <= 0 {
		c.UploadBurst = DefaultUploadBurst
	}
	if c.DecodePixels <= 0 {
		c.DecodePixels = DefaultDecodePixels
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ServeMemory <= 0 {
		c.ServeMemory = DefaultServeMemory
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// record is an attachment's metadata, stored as JSON under its id.
// ContentType is what is served: image/png, image/jpeg or image/gif (a
// WebP is stored as PNG or JPEG); Width and Height are the image's after
// EXIF orientation; Size is the stored (re-encoded) size in bytes.
type record struct {
	ID          string `json:"id"`
	Owner       string `json:"owner"`
	ContentType string `json:"content_type"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ThumbType   string `json:"thumb_type"`
	ThumbWidth  int    `json:"thumb_width"`
	ThumbHeight int    `json:"thumb_height"`
	ThumbSize   int64  `json:"thumb_size"`
	ThumbSHA256 string `json:"thumb_sha256"`
	CreatedAt   int64  `json:"created_at"` // unix ms
	ExpiresAt   int64  `json:"expires_at"` // unix ms
}

func (r *record) expires() time.Time { return time.UnixMilli(r.ExpiresAt) }

// attachment is the image as messages carry it (and uploads answer it),
// with absolute paths on this service; the one conversion from what is
// stored.
func (r *record) attachment() chat.Attachment {
	return chat.Attachment{
		ID:           r.ID,
		URL:          imageURL(r.ID),
		ThumbnailURL: thumbnailURL(r.ID),
		Width:        r.Width,
		Height:       r.Height,
		ContentType:  r.ContentType,
	}
}

func imageURL(id string) string     { return "/api/attachments/" + id }
func thumbnailURL(id string) string { return "/api/attachments/" + id + "/thumbnail" }

// Blob names of an attachment's image and thumbnail.
func imageBlob(id string) string { return id + ".image" }
func thumbBlob(id string) string { return id + ".thumb" }

// Service accepts, stores and serves image attachments. Safe for
// concurrent use; make one with New.
type Service struct {
	cfg     Config
	blobs   Blobs
	meta    chat.KV
	log     *slog.Logger
	limiter *limiter

	pixels      *budget // pixels being decoded (first fit)
	serveMemory *budget // bytes held for downloads

	// readHook, set by tests before serving, sees an upload's buffer
	// (length, capacity) before each read into it.
	readHook func(length, capacity int)
}

// New returns a Service storing bytes in blobs and metadata in meta (a
// bucket whose entries expire after the retention period, e.g.
// cluster.Cluster.AttachMeta). It needs nothing of the chat service: the
// upload route gets its Authenticator when it is mounted (Register), so
// the chat service, which looks attachments up (chat.Files), can be
// built after it.
func New(cfg Config, blobs Blobs, meta chat.KV) *Service {
	cfg = cfg.withDefaults()
	return &Service{
		cfg:     cfg,
		blobs:   blobs,
		meta:    meta,
		log:     cfg.Logger,
		limiter: newLimiter(cfg.UploadsPerMinute/60, cfg.UploadBurst),

		pixels:      newFirstFitBudget(cfg.DecodePixels),
		serveMemory: newBudget(cfg.ServeMemory),
	}
}

// Config returns the configuration in force: New's, defaults applied.
func (s *Service) Config() Config { return s.cfg }

// newID returns 128 random bits as an attachment id.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "a" + hex.EncodeToString(b[:])
}

var _ chat.Files = (*Service)(nil)

// Lookup returns the attachment id if it exists and has not expired;
// otherwise an error wrapping ErrNotFound (storage outages wrap
// apierr.ErrUnavailable). It implements chat.Files: the chat service
// uses it to check that an attachment sent with a message was uploaded
// by the sender and is still there.
func (s *Service) Lookup(ctx context.Context, id string) (chat.FileInfo, error) {
	r, err := s.record(ctx, id)
	if err != nil {
		return chat.FileInfo{}, err
	}
	return chat.FileInfo{Attachment: r.attachment(), Owner: r.Owner, ExpiresAt: r.expires()}, nil
}

// record reads an attachment's metadata, treating an expired one as
// missing even if the store has not dropped it yet.
func (s *Service) record(ctx context.Context, id string) (*record, error) {
	if !chat.ValidID(id) {
		return nil, fmt.Errorf("attachment %q: %w", id, ErrNotFound)
	}
	e, err := s.meta.Get(ctx, id)
	if errors.Is(err, apierr.ErrNotFound) {
		return nil, fmt.Errorf("attachment %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("attachment %q: %w", id, err)
	}
	var r record
	if err := json.Unmarshal(e.Value, &r); err != nil {
		return nil, fmt.Errorf("attachment %q: decode metadata: %w", id, err)
	}
	if !time.Now().Before(r.expires()) {
		return nil, fmt.Errorf("attachment %q: expired: %w", id, ErrNotFound)
	}
	return &r, nil
}
