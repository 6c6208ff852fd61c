package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/connectors/osciclient"
	"github.com/dxhub/dxhub/connectors/xtabox"
	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/osci"
	"github.com/dxhub/dxhub/routing"
)

// setupOSCI builds the OSCI transport from cfg.OSCI and registers it for
// routing.TransportOSCI; recv takes replies fetched from the hub's mailbox.
// Without an osci section, routes with transport osci have no transport (the
// pipeline fails them permanently): configured endpoints are rejected by
// Validate, so this concerns routes only the DVDV names (a warning remains
// for configurations that skipped validation).
func (h *hub) setupOSCI(resolver routing.Resolver, recv osciclient.Receiver, transports map[routing.TransportKind]routing.Transport) error {
	o := h.cfg.OSCI
	if !o.Enabled() {
		for _, e := range h.cfg.Endpoints {
			if e.Transport == config.TransportOSCI {
				h.log.Warn("endpoint uses transport osci but osci.signing is not configured; its deliveries will fail",
					"reader", e.ReaderKey, "service", e.ServiceURI)
			}
		}
		return nil
	}
	signer, err := loadOSCIIdentity(o.Signing, xmlsec.UsageSignature)
	if err != nil {
		return fmt.Errorf("osci.signing: %w", err)
	}
	cipher, err := loadOSCIIdentity(o.Decryption, xmlsec.UsageEncryption)
	if err != nil {
		return fmt.Errorf("osci.decryption: %w", err)
	}
	// Revocation: xmlsec.TrustStore.Revocation is the extension point (OCSP,
	// CRL); the hub configures none.
	trust := &xmlsec.TrustStore{}
	if f := o.TrustStore.CAFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("osci.trustStore.caFile: %w", err)
		}
		if trust.Roots, err = xmlsec.ParseCertPoolPEM(b); err != nil {
			return fmt.Errorf("osci.trustStore.caFile: %w", err)
		}
	}
	var ims []osciclient.Intermediary
	for i, c := range o.Intermediaries {
		im := osciclient.Intermediary{URL: c.URL}
		for _, f := range []struct {
			file string
			dst  **x509.Certificate
		}{{c.CipherCertFile, &im.CipherCert}, {c.SignatureCertFile, &im.SignatureCert}} {
			if f.file == "" {
				continue
			}
			b, err := os.ReadFile(f.file)
			if err != nil {
				return fmt.Errorf("osci.intermediaries[%d]: %w", i, err)
			}
			if *f.dst, err = xmlsec.ParseCertificatePEM(b); err != nil {
				return fmt.Errorf("osci.intermediaries[%d]: %w", i, err)
			}
		}
		ims = append(ims, im)
	}
	h.osciOut, err = osciclient.New(h.store, xtabox.BlobStore{Store: h.blobs}, osciclient.Options{
		AuthorKey: h.cfg.Hub.AuthorKey, Signer: signer, Cipher: cipher, Trust: trust, Intermediaries: ims,
		AllowDeprecated: o.TrustStore.AllowDeprecated, Resolver: resolver, Timeout: o.Timeout, RetryMax: o.RetryMax,
		Logger: h.log, WrapTransport: h.traceTransport,
	})
	if err != nil {
		return err
	}
	h.osciRecv = recv
	transports[routing.TransportOSCI] = h.osciOut
	return nil
}

// registerOSCIJobs adds the Laufzettel poll and the mailbox job.
func (h *hub) registerOSCIJobs(ctx context.Context, jobs *cron.Cron) error {
	if h.osciOut == nil {
		return nil
	}
	o := h.cfg.OSCI
	if _, err := jobs.AddFunc(o.ProcessCardSchedule, func() {
		if _, err := h.osciOut.PollProcessCards(ctx, 100); err != nil && ctx.Err() == nil {
			h.log.Error("OSCI Laufzettel poll failed", "err", err)
		}
		h.wakeNotify()
	}); err != nil {
		return fmt.Errorf("osci.processCardSchedule: %w", err)
	}
	if o.Mailbox.Intermediary == "" {
		return nil
	}
	if _, err := jobs.AddFunc(o.Mailbox.Schedule, func() {
		if _, err := h.fetchOSCIMailbox(ctx); err != nil && ctx.Err() == nil {
			h.log.Error("OSCI mailbox fetch failed", "err", err)
		}
	}); err != nil {
		return fmt.Errorf("osci.mailbox.schedule: %w", err)
	}
	return nil
}

// fetchOSCIMailbox runs the mailbox job once.
func (h *hub) fetchOSCIMailbox(ctx context.Context) (int, error) {
	return h.osciOut.FetchMailbox(ctx, osciclient.MailboxOptions{Intermediary: h.cfg.OSCI.Mailbox.Intermediary, Max: h.cfg.OSCI.Mailbox.Max}, h.osciRecv)
}

// loadOSCIIdentity reads a key pair and checks the certificate's validity
// and key usage.
func loadOSCIIdentity(p config.OSCIKeyPair, usage xmlsec.Usage) (osci.Identity, error) {
	cb, err := os.ReadFile(p.CertFile)
	if err != nil {
		return osci.Identity{}, err
	}
	kb, err := os.ReadFile(p.KeyFile)
	if err != nil {
		return osci.Identity{}, err
	}
	cert, err := xmlsec.ParseCertificatePEM(cb)
	if err != nil {
		return osci.Identity{}, err
	}
	key, err := xmlsec.ParseRSAKeyPEM(kb)
	if err != nil {
		return osci.Identity{}, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return osci.Identity{}, fmt.Errorf("%s does not hold the key of %s", p.KeyFile, p.CertFile)
	}
	if err := xmlsec.CheckCertificate(cert, usage, time.Now()); err != nil {
		return osci.Identity{}, err
	}
	return osci.Identity{Key: key, Cert: cert}, nil
}
