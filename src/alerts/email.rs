//! E-mail over SMTP (lettre): STARTTLS, TLS from the start, or plain to a relay on this
//! machine; a login when the server wants one; several recipients.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{SmtpTransport, Transport as _};

use super::{Message, Transport};
use crate::config::{EmailSettings, SmtpSecurity};

/// An e-mail channel.
pub(super) struct Email {
    /// Its server and addresses.
    pub(super) settings: EmailSettings,
    /// Limit for one send.
    pub(super) timeout: Duration,
}

impl Email {
    fn mailer(&self) -> Result<SmtpTransport, String> {
        let builder = match self.settings.security {
            SmtpSecurity::StartTls => SmtpTransport::starttls_relay(&self.settings.host),
            SmtpSecurity::Tls => SmtpTransport::relay(&self.settings.host),
            SmtpSecurity::None => Ok(SmtpTransport::builder_dangerous(&self.settings.host)),
        }
        .map_err(|e| format!("cannot use {}: {e}", self.settings.host))?;
        let mut builder = builder.port(self.settings.port).timeout(Some(self.timeout));
        if let Some((user, secret)) = &self.settings.login {
            let password = secret
                .read()
                .map_err(|e| format!("no password for {user}: {e}"))?;
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(builder.build())
    }
}

impl Transport for Email {
    fn send(&self, message: &Message) -> Result<String, String> {
        let mut mail = lettre::Message::builder()
            .from(
                self.settings
                    .from
                    .parse()
                    .map_err(|e| format!("from: {e}"))?,
            )
            .subject(message.title())
            .message_id(Some(format!("<{}@cartferry>", message.id)));
        for to in &self.settings.to {
            mail = mail.to(to.parse().map_err(|e| format!("to {to}: {e}"))?);
        }
        let mail = mail
            .header(ContentType::TEXT_PLAIN)
            .body(message.text())
            .map_err(|e| format!("cannot build the e-mail: {e}"))?;
        let answer = self.mailer()?.send(&mail).map_err(|e| {
            format!(
                "{}:{} did not take the e-mail: {e}",
                self.settings.host, self.settings.port
            )
        })?;
        Ok(format!(
            "{}:{} answered {} {}",
            self.settings.host,
            self.settings.port,
            answer.code(),
            answer.message().collect::<Vec<_>>().join(" ")
        ))
    }
}
