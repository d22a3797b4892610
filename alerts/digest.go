package alerts

import (
	"context"
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
)

// DigestItem is one alert of a member's digest and what happened to it last.
type DigestItem struct {
	AlertID   int64
	Account   string // key
	Name      string // the account's name
	Kind      string
	Severity  string
	State     string
	Message   string
	Happened  string // opened, reopened, resolved
	At        time.Time
	Note      string
	Who       string // who resolved or reopened it
	URL       string // its account page, "" without BASE_URL
	Threshold *float64
}

// Digest is one member's e-mail: the alerts they own that opened, reopened or were
// resolved since their last digest.
type Digest struct {
	To, Name    string
	Since, Till time.Time
	Items       []DigestItem
	InboxURL    string // "" without BASE_URL
	ProfileURL  string
}

// Subject is the e-mail's subject line.
func (d Digest) Subject() string {
	opened, resolved := d.counts()
	parts := []string{}
	if opened > 0 {
		parts = append(parts, plural(opened, "alert needs you", "alerts need you"))
	}
	if resolved > 0 {
		parts = append(parts, plural(resolved, "alert resolved", "alerts resolved"))
	}
	return "Sightline: " + strings.Join(parts, ", ")
}

func (d Digest) counts() (opened, resolved int) {
	for _, it := range d.Items {
		if it.Happened == "resolved" {
			resolved++
		} else {
			opened++
		}
	}
	return opened, resolved
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func (it DigestItem) line() string {
	name := it.Name
	if name == "" {
		name = it.Account
	}
	s := fmt.Sprintf("[%s] %s — %s: %s", it.Severity, name, KindLabels[it.Kind], it.Message)
	if it.Happened == "resolved" {
		s = fmt.Sprintf("Resolved: %s — %s: %s", name, KindLabels[it.Kind], it.Message)
		if it.Who != "" {
			s += " (by " + it.Who + ")"
		}
	} else if it.Happened == "reopened" {
		s += " (back in your inbox)"
	}
	if it.Note != "" {
		s += "\n    Note: " + it.Note
	}
	return s
}

// Text is the plain-text part.
func (d Digest) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\nWhat happened to your alerts since %s:\n\n", firstName(d.Name, d.To), d.Since.UTC().Format("Mon 2 Jan 15:04 MST"))
	for _, it := range d.Items {
		b.WriteString("- " + it.line() + "\n")
		if it.URL != "" {
			b.WriteString("    " + it.URL + "\n")
		}
	}
	if d.InboxURL != "" {
		fmt.Fprintf(&b, "\nYour inbox: %s\n", d.InboxURL)
	}
	if d.ProfileURL != "" {
		fmt.Fprintf(&b, "Daily, weekly or no digest: %s\n", d.ProfileURL)
	}
	return b.String()
}

var digestHTML = template.Must(template.New("digest").Funcs(template.FuncMap{
	"label": func(k string) string { return KindLabels[k] },
	"first": firstName,
}).Parse(`<!doctype html>
<html><body style="font-family:system-ui,sans-serif;color:#1c2430;max-width:640px">
<p>Hello {{first .Name .To}},</p>
<p>What happened to your alerts since {{.Since.UTC.Format "Mon 2 Jan 15:04 MST"}}:</p>
<ul>
{{range .Items}}<li style="margin-bottom:.6em">
{{if eq .Happened "resolved"}}<strong>Resolved</strong>{{else}}<strong>[{{.Severity}}]</strong>{{end}}
{{if .URL}}<a href="{{.URL}}">{{if .Name}}{{.Name}}{{else}}{{.Account}}{{end}}</a>{{else}}{{if .Name}}{{.Name}}{{else}}{{.Account}}{{end}}{{end}}
— {{label .Kind}}: {{.Message}}{{if eq .Happened "reopened"}} (back in your inbox){{end}}{{if and (eq .Happened "resolved") .Who}} (by {{.Who}}){{end}}
{{if .Note}}<br><em>Note: {{.Note}}</em>{{end}}
</li>
{{end}}</ul>
{{if .InboxURL}}<p><a href="{{.InboxURL}}">Open your inbox</a></p>{{end}}
{{if .ProfileURL}}<p style="color:#5b6675;font-size:.85em">Daily, weekly or no digest: <a href="{{.ProfileURL}}">your profile</a></p>{{end}}
</body></html>`))

// HTML is the HTML part.
func (d Digest) HTML() (string, error) {
	var b strings.Builder
	err := digestHTML.Execute(&b, d)
	return b.String(), err
}

func firstName(name, email string) string {
	if f := strings.Fields(name); len(f) > 0 {
		return f[0]
	}
	return email
}

// Mailer sends e-mail through an SMTP server.
type Mailer struct {
	opts []mail.Option
	host string
	From string
}

// NewMailer reads SMTP_URL (smtp://user:pass@host:port, STARTTLS when the server
// offers it; smtps://… for TLS from the start) and MAIL_FROM.
func NewMailer(smtpURL, from string) (*Mailer, error) {
	u, err := url.Parse(smtpURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("SMTP_URL: want smtp://user:pass@host:port or smtps://…")
	}
	if from == "" {
		return nil, fmt.Errorf("MAIL_FROM is required to send e-mail")
	}
	m := &Mailer{host: u.Hostname(), From: from}
	switch u.Scheme {
	case "smtp":
		m.opts = append(m.opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case "smtps":
		m.opts = append(m.opts, mail.WithSSL())
	default:
		return nil, fmt.Errorf("SMTP_URL: scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if p := u.Port(); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("SMTP_URL: bad port %q", p)
		}
		m.opts = append(m.opts, mail.WithPort(port))
	}
	if user := u.User.Username(); user != "" {
		pass, _ := u.User.Password()
		m.opts = append(m.opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(user), mail.WithPassword(pass))
	}
	m.opts = append(m.opts, mail.WithTimeout(30*time.Second))
	return m, nil
}

// Send delivers a digest as text and HTML.
func (m *Mailer) Send(ctx context.Context, d Digest) error {
	msg := mail.NewMsg()
	if err := msg.From(m.From); err != nil {
		return fmt.Errorf("MAIL_FROM: %w", err)
	}
	if err := msg.To(d.To); err != nil {
		return fmt.Errorf("recipient %s: %w", d.To, err)
	}
	msg.Subject(d.Subject())
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(mail.TypeTextPlain, d.Text())
	html, err := d.HTML()
	if err != nil {
		return err
	}
	msg.AddAlternativeString(mail.TypeTextHTML, html)
	c, err := mail.NewClient(m.host, m.opts...)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp: unable to send to %s: %w", d.To, err)
	}
	return nil
}
