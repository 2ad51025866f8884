package attachments

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/httpx"
)

const (
	// multipartOverhead is what the request body may hold besides the
	// file: boundaries, part headers, a few small fields.
	multipartOverhead = 64 << 10
	// maxParts is how many multipart parts are read looking for the
	// field "file"; nothing after that part is read at all.
	maxParts = 4
	// initialBuffer is the first size of an upload's buffer.
	initialBuffer = 32 << 10
)

// Register mounts the attachment routes on mux; uploads are
// authenticated with auth:
//
//	POST /api/attachments                 upload (bearer token; multipart field "file")
//	GET  /api/attachments/{id}            the image
//	GET  /api/attachments/{id}/thumbnail  its thumbnail
func (s *Service) Register(mux *http.ServeMux, auth Authenticator) {
	mux.HandleFunc("POST /api/attachments", func(w http.ResponseWriter, r *http.Request) { s.upload(w, r, auth) })
	mux.HandleFunc("GET /api/attachments/{id}", func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, false) })
	mux.HandleFunc("GET /api/attachments/{id}/thumbnail", func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, true) })
}

// uploadResponse is the body of a 201 answer to an upload: the
// attachment as messages will carry it (no alt yet), its size and expiry.
type uploadResponse struct {
	chat.Attachment
	Size      int64 `json:"size"`
	ExpiresAt int64 `json:"expires_at"` // unix ms
}

func (s *Service) upload(w http.ResponseWriter, r *http.Request, auth Authenticator) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	body := httpx.GuardBody(w, r, s.cfg.Body)
	defer body.Release()
	if s.cfg.AdmitUpload != nil {
		if err := s.cfg.AdmitUpload(r); err != nil {
			s.refuse(w, r, err)
			return
		}
	}
	u, err := authenticate(ctx, r, auth)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	if ok, wait := s.limiter.allow(u.ID, time.Now()); !ok {
		s.refuse(w, r, apierr.RateLimited("too many uploads, try again later", wait))
		return
	}
	data, err := s.readFile(w, r)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	body.Release() // the rest of the body is not read (see httpx.Body.Release)
	p, err := s.process(ctx, data)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	if int64(len(p.image.data)) > 2*s.cfg.MaxSize {
		s.refuse(w, r, &apierr.Error{Code: apierr.CodeTooLarge, Message: "the image would take too much space once re-encoded"})
		return
	}
	rec, err := s.store(ctx, u.ID, p)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	att := rec.attachment()
	w.Header().Set("Location", att.URL)
	httpx.WriteJSON(w, http.StatusCreated, uploadResponse{Attachment: att, Size: rec.Size, ExpiresAt: rec.ExpiresAt})
	s.cfg.Metrics.Uploaded(rec.Size)
}

// refuse answers a failed upload and counts it by its code.
func (s *Service) refuse(w http.ResponseWriter, r *http.Request, err error) {
	code := apierr.AsError(err).Code
	s.cfg.Metrics.UploadRefused(code)
	if code == apierr.CodeRateLimited {
		s.cfg.Metrics.RateLimited("upload")
	}
	s.fail(w, r, err)
}

// authenticate resolves the request's "Authorization: Bearer" token.
func authenticate(ctx context.Context, r *http.Request, auth Authenticator) (chat.User, error) {
	token, ok := httpx.BearerToken(r.Header.Get("Authorization"))
	if !ok {
		return chat.User{}, &apierr.Error{Code: apierr.CodeUnauthorized, Message: "missing or invalid token"}
	}
	return auth.Authenticate(ctx, token)
}

// readFile returns the content of the first multipart part named "file",
// reading at most MaxSize plus multipartOverhead bytes of body and at
// most maxParts parts. The part's file name and declared type are
// ignored.
func (s *Service) readFile(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, &apierr.Error{Code: apierr.CodeInvalidRequest, Message: `expected a multipart/form-data body with a "file" field`}
	}
	limit := s.cfg.MaxSize + multipartOverhead
	tooLarge := &apierr.Error{Code: apierr.CodeTooLarge, Message: fmt.Sprintf("the file is larger than %d bytes", s.cfg.MaxSize)}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	readErr := func(err error) error {
		switch ce := httpx.BodyError(err); ce.Code {
		case apierr.CodeTooLarge:
			return tooLarge
		case apierr.CodeRequestTimeout:
			return ce
		}
		return &apierr.Error{Code: apierr.CodeInvalidRequest, Message: "the multipart body is malformed or incomplete"}
	}
	mr := multipart.NewReader(http.MaxBytesReader(w, r.Body, limit), params["boundary"])
	for range maxParts {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, &apierr.Error{Code: apierr.CodeInvalidRequest, Message: `the body has no "file" field`}
		}
		if err != nil {
			return nil, readErr(err)
		}
		if part.FormName() != "file" {
			continue // NextPart skips the rest of it
		}
		data, err := s.readPart(part, s.cfg.MaxSize+1)
		if err != nil {
			return nil, readErr(err)
		}
		if int64(len(data)) > s.cfg.MaxSize {
			return nil, tooLarge
		}
		if len(data) == 0 {
			return nil, &apierr.Error{Code: apierr.CodeInvalidRequest, Message: "the file is empty"}
		}
		return data, nil
	}
	return nil, &apierr.Error{Code: apierr.CodeInvalidRequest, Message: fmt.Sprintf(`no "file" field within the first %d parts`, maxParts)}
}

// readPart reads r to its end or to limit bytes, whichever comes first.
// Its buffer grows with the bytes that arrive, doubling from
// initialBuffer, never to a length the request declares.
func (s *Service) readPart(r io.Reader, limit int64) ([]byte, error) {
	buf := make([]byte, 0, min(limit, initialBuffer))
	for int64(len(buf)) < limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(int64(cap(buf)), limit-int64(len(buf)))))
		}
		if s.readHook != nil {
			s.readHook(len(buf), cap(buf))
		}
		n, err := r.Read(buf[len(buf):int(min(int64(cap(buf)), limit))])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// process checks data (inspect), then decodes and re-encodes it once
// the pixel budget has room for it (decodeCost): small images go ahead
// while a large one decodes. The wait is bounded by ctx (503
// unavailable when it ends).
func (s *Service) process(ctx context.Context, data []byte) (processed, error) {
	f, cfg, err := inspect(data)
	if err != nil {
		return processed{}, err
	}
	cost := decodeCost(f, cfg, data)
	if err := s.pixels.acquire(ctx, cost); err != nil {
		return processed{}, &apierr.Error{Code: apierr.CodeUnavailable, Message: "the server is busy, try again"}
	}
	defer s.pixels.release(cost)
	return decode(f, data)
}

// store saves the image, its thumbnail, then the metadata that makes
// them visible; on failure it deletes what it stored.
func (s *Service) store(ctx context.Context, owner string, p processed) (*record, error) {
	now := time.Now()
	id := newID()
	sum := sha256.Sum256(p.image.data)
	tsum := sha256.Sum256(p.thumb.data)
	rec := record{
		ID:          id,
		Owner:       owner,
		ContentType: p.image.contentType,
		Width:       p.image.width,
		Height:      p.image.height,
		Size:        int64(len(p.image.data)),
		SHA256:      hex.EncodeToString(sum[:]),
		ThumbType:   p.thumb.contentType,
		ThumbWidth:  p.thumb.width,
		ThumbHeight: p.thumb.height,
		ThumbSize:   int64(len(p.thumb.data)),
		ThumbSHA256: hex.EncodeToString(tsum[:]),
		// The blobs are written after this instant, so the store drops
		// them no sooner than ExpiresAt.
		CreatedAt: now.UnixMilli(),
		ExpiresAt: now.Add(s.cfg.Retention).UnixMilli(),
	}
	value, err := json.Marshal(&rec)
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	if err := s.blobs.Put(ctx, imageBlob(id), bytes.NewReader(p.image.data)); err != nil {
		s.discard(ctx, id, err)
		return nil, fmt.Errorf("store attachment %s: %w", id, err)
	}
	if err := s.blobs.Put(ctx, thumbBlob(id), bytes.NewReader(p.thumb.data)); err != nil {
		s.discard(ctx, id, err)
		return nil, fmt.Errorf("store thumbnail of %s: %w", id, err)
	}
	if _, err := s.meta.Create(ctx, id, value); err != nil {
		s.discard(ctx, id, err)
		return nil, fmt.Errorf("store metadata of %s: %w", id, err)
	}
	return &rec, nil
}

// discard deletes the blobs of an upload that failed after err; they
// would expire anyway, so nothing is tried when the store is
// unreachable.
func (s *Service) discard(ctx context.Context, id string, err error) {
	if errors.Is(err, apierr.ErrUnavailable) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	for _, name := range []string{imageBlob(id), thumbBlob(id)} {
		if err := s.blobs.Delete(ctx, name); err != nil {
			s.log.Warn("delete blob of a failed upload", "name", name, "err", err)
		}
	}
}

// serve answers GET and HEAD for an image or its thumbnail, with Range
// and conditional requests, and headers that keep the bytes inert: the
// exact type, nosniff, a sandboxing CSP, same-origin only.
//
// The object is read whole from the store before anything is sent, so
// that a missing object is still a 404 and a slow client never holds a
// NATS consumer open; Config.ServeMemory bounds the bytes held so for
// downloads in progress.
func (s *Service) serve(w http.ResponseWriter, r *http.Request, thumb bool) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	rec, err := s.record(ctx, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name, ct, size, sum, file := imageBlob(rec.ID), rec.ContentType, rec.Size, rec.SHA256, "attachment-"+rec.ID
	if thumb {
		name, ct, size, sum, file = thumbBlob(rec.ID), rec.ThumbType, rec.ThumbSize, rec.ThumbSHA256, file+"-thumbnail"
	}
	etag := `"` + sum[:min(len(sum), 32)] + `"`
	left := max(0, int64(time.Until(rec.expires())/time.Second))
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", fmt.Sprintf("private, max-age=%d, immutable", left))
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified) // without reading the object
		return
	}
	var content io.ReadSeeker = io.NewSectionReader(noReads{}, 0, size) // HEAD needs only the size
	if r.Method != http.MethodHead {
		if err := s.serveMemory.acquire(ctx, size); err != nil {
			h.Del("ETag")
			s.fail(w, r, &apierr.Error{Code: apierr.CodeUnavailable, Message: "the server is busy, try again"})
			return
		}
		defer s.serveMemory.release(size)
		data, err := s.readBlob(ctx, name, size)
		if err != nil {
			h.Del("ETag")
			if errors.Is(err, apierr.ErrNotFound) {
				err = fmt.Errorf("attachment %s: %w", rec.ID, ErrNotFound)
			}
			s.fail(w, r, err)
			return
		}
		content = bytes.NewReader(data)
	}
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Content-Disposition", `inline; filename="`+file+"."+extension(ct)+`"`)
	http.ServeContent(w, r, "", time.UnixMilli(rec.CreatedAt), content)
}

// readBlob reads a whole object that should hold size bytes (the store
// checks its digest at the end).
func (s *Service) readBlob(ctx context.Context, name string, size int64) ([]byte, error) {
	body, err := s.blobs.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	buf := bytes.NewBuffer(make([]byte, 0, size+1))
	if _, err := buf.ReadFrom(io.LimitReader(body, size+1)); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(buf.Len()) != size {
		return nil, fmt.Errorf("read %s: %d bytes, want %d", name, buf.Len(), size)
	}
	return buf.Bytes(), nil
}

// noReads is the content of a HEAD answer, which http.ServeContent
// measures but never reads.
type noReads struct{}

func (noReads) ReadAt([]byte, int64) (int, error) { return 0, errors.New("HEAD content read") }

// etagMatch reports whether an If-None-Match header value matches etag
// (weak comparison, as RFC 9110 asks for If-None-Match).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// fail answers with the client-visible form of err; internal errors are
// logged, never shown.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrNotFound) {
		err = &apierr.Error{Code: apierr.CodeAttachmentNotFound, Message: "no such attachment, or it has expired"}
	}
	httpx.Fail(w, r, s.log, err)
}
