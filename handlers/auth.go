package handlers

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

const (
	sessionCookie = "sightline_session"
	sessionTTL    = 12 * time.Hour
	memberKey     = "member"
	tokenKey      = "api_token"
)

// sessionManager keeps a random session id in a signed, encrypted cookie; the
// database holds its hash, so logout and disabling a member end the session at once.
type sessionManager struct {
	store   *models.Store
	cookies *sessions.CookieStore
}

func newSessionManager(store *models.Store, secret []byte, secure bool) *sessionManager {
	derive := func(label string) []byte {
		sum := sha256.Sum256(append([]byte(label+":"), secret...))
		return sum[:]
	}
	cs := sessions.NewCookieStore(derive("hash"), derive("block"))
	cs.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(sessionTTL / time.Second),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
	return &sessionManager{store: store, cookies: cs}
}

// session returns the cookie session; a stale or forged cookie yields a fresh one.
func (m *sessionManager) session(r *http.Request) *sessions.Session {
	sess, _ := m.cookies.Get(r, sessionCookie)
	return sess
}

// member returns who is logged in, or nil.
func (m *sessionManager) member(c echo.Context) *models.TeamMember {
	sid, _ := m.session(c.Request()).Values["sid"].(string)
	if sid == "" {
		return nil
	}
	member, err := m.store.SessionMember(c.Request().Context(), sid)
	if err != nil {
		return nil
	}
	return member
}

// loadViewer puts the logged-in member, the CSRF token and the path where views find them.
func (s *server) loadViewer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if isMachineRoute(c) || strings.HasPrefix(c.Request().URL.Path, "/static/") {
			return next(c)
		}
		ctx := c.Request().Context()
		m := s.sessions.member(c) // from the primary: a fresh login is never missed
		ctx = s.readsFrom(c, ctx)
		if c.Request().Method == http.MethodGet {
			ctx = models.ReadOnlyView(ctx) // pages' GETs write nothing
		}
		if m != nil {
			c.Set(memberKey, m)
			v := views.Viewer{Email: m.Email, Name: m.Name, Role: m.Role}
			if c.Request().Method == http.MethodGet && !isHTMXSwap(c.Request()) {
				// Full pages show the count; a failure to count shows none.
				v.OpenAlerts, _ = s.store.OpenAlertCount(ctx, m.Email)
			}
			ctx = views.WithViewer(ctx, v)
		}
		if tok, ok := c.Get("csrf").(string); ok {
			ctx = views.WithCSRF(ctx, tok)
		}
		ctx = views.WithPath(ctx, c.Request().URL.Path)
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

func currentMember(c echo.Context) *models.TeamMember {
	m, _ := c.Get(memberKey).(*models.TeamMember)
	return m
}

// requireMember guards a page: anonymous visitors go to /login, members lacking the
// permission get 403.
func (s *server) requireMember(perm models.Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			m := currentMember(c)
			if m == nil {
				target := "/login?next=" + url.QueryEscape(c.Request().URL.RequestURI())
				if c.Request().Header.Get("HX-Request") == "true" {
					c.Response().Header().Set("HX-Redirect", target)
					return c.NoContent(http.StatusUnauthorized)
				}
				return c.Redirect(http.StatusSeeOther, target)
			}
			if !m.Role.Can(perm) {
				return echo.NewHTTPError(http.StatusForbidden, "Your role ("+string(m.Role)+") may not do this.")
			}
			return next(c)
		}
	}
}

// requireToken guards an API route with an `Authorization: Bearer` token.
func (s *server) requireToken(perm models.Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			auth := c.Request().Header.Get(echo.HeaderAuthorization)
			scheme, secret, ok := strings.Cut(auth, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="sightline"`)
				return echo.NewHTTPError(http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer TOKEN")
			}
			tok, err := s.store.APITokenBySecret(c.Request().Context(), strings.TrimSpace(secret))
			if errors.Is(err, models.ErrNotFound) {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="sightline", error="invalid_token"`)
				return echo.NewHTTPError(http.StatusUnauthorized, "unknown or revoked API token")
			}
			if err != nil {
				return err
			}
			if !tok.Role.Can(perm) {
				return echo.NewHTTPError(http.StatusForbidden, "an API token with role "+string(tok.Role)+" may not do this")
			}
			c.Set(tokenKey, tok)
			ctx := c.Request().Context()
			if !isRead(c.Request()) {
				// A second of slack: a client's concurrent writes do not all queue on the
				// token's row (the window is that much shorter, still past the lag bound).
				if tok.LastWriteAt == nil || time.Since(*tok.LastWriteAt) >= time.Second {
					if err := s.store.MarkTokenWrite(ctx, tok.ID); err != nil {
						return err
					}
				}
			} else if s.store.HasReplicas() && !recent(tok.LastWriteAt) {
				c.SetRequest(c.Request().WithContext(models.ReplicaReads(ctx)))
			}
			if models.Stale(tok.LastUsedAt) {
				s.store.TouchAPIToken(c.Request().Context(), tok.ID)
			}
			return next(c)
		}
	}
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (s *server) loginShow(c echo.Context) error {
	if currentMember(c) != nil {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	return render(c, http.StatusOK, views.LoginPage(views.LoginForm{Next: c.QueryParam("next")}), nil)
}

// badLogin is the one message for an unknown email and a wrong password alike.
const badLogin = "Email or password is incorrect."

func (s *server) loginSubmit(c echo.Context) error {
	email := models.NormalizeEmail(c.FormValue("email"))
	form := views.LoginForm{Email: email, Next: c.FormValue("next")}
	if wait := s.throttle.blocked(c.Request().Context(), c.RealIP(), email); wait > 0 {
		c.Response().Header().Set("Retry-After", itoaSeconds(wait))
		form.Error = "Too many failed attempts. Try again in a few minutes."
		return render(c, http.StatusTooManyRequests, views.LoginPage(form), nil)
	}
	member, err := s.store.Authenticate(c.Request().Context(), email, c.FormValue("password"))
	if errors.Is(err, models.ErrBadCredentials) {
		s.throttle.fail(c.Request().Context(), c.RealIP(), email)
		form.Error = badLogin
		return render(c, http.StatusUnauthorized, views.LoginPage(form), nil)
	}
	if err != nil {
		return err
	}
	s.throttle.succeed(c.Request().Context(), email)

	// A new session id at every login: a planted cookie never becomes a logged-in one.
	sess := s.sessions.session(c.Request())
	if old, _ := sess.Values["sid"].(string); old != "" {
		_ = s.store.DeleteLoginSession(c.Request().Context(), old)
	}
	sid, err := s.store.CreateLoginSession(c.Request().Context(), member.ID, sessionTTL)
	if err != nil {
		return err
	}
	sess.Values = map[any]any{"sid": sid}
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	s.log.Info("login", "member", member.Email, "role", member.Role)
	if form.Next == "" && member.Role == models.RolePM {
		// A PM's questions are answered on /features; the portfolio is one click away.
		return c.Redirect(http.StatusSeeOther, "/features")
	}
	return c.Redirect(http.StatusSeeOther, safeNext(form.Next))
}

func (s *server) logout(c echo.Context) error {
	sess := s.sessions.session(c.Request())
	if sid, _ := sess.Values["sid"].(string); sid != "" {
		if err := s.store.DeleteLoginSession(c.Request().Context(), sid); err != nil {
			return err
		}
	}
	sess.Values = map[any]any{}
	sess.Options.MaxAge = -1
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

// wroteCookie carries when the browser last sent a write, so its reads stay on the
// primary for models.ReadYourWrites, whichever process serves them.
const wroteCookie = "sightline_wrote"

// readsFrom returns ctx marked for replica reads when replicas serve, the request is
// a read and its browser sent no write lately; a write sets the cookie that keeps the
// next reads on the primary.
func (s *server) readsFrom(c echo.Context, ctx context.Context) context.Context {
	if !s.store.HasReplicas() {
		return ctx
	}
	if !isRead(c.Request()) {
		c.SetCookie(&http.Cookie{Name: wroteCookie, Value: strconv.FormatInt(time.Now().Unix(), 10), Path: "/",
			MaxAge: int(models.ReadYourWrites / time.Second), HttpOnly: true, SameSite: http.SameSiteLaxMode,
			Secure: c.Scheme() == "https"})
		return ctx
	}
	if ck, err := c.Cookie(wroteCookie); err == nil {
		if at, err := strconv.ParseInt(ck.Value, 10, 64); err == nil {
			t := time.Unix(at, 0)
			if recent(&t) {
				return ctx
			}
		}
	}
	return models.ReplicaReads(ctx)
}

func isRead(r *http.Request) bool { return r.Method == http.MethodGet || r.Method == http.MethodHead }

// recent tells whether a write at t may not have reached every replica yet.
func recent(t *time.Time) bool { return t != nil && time.Since(*t) < models.ReadYourWrites }
