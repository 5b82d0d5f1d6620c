//! E-mail over SMTP (lettre): STARTTLS, TLS from the start, or plain to a relay on this
//! machine; a login when the server wants one; several recipients.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{SmtpTransport, Transport as _};

use super::{Message, Transport};
use crate::config::{AlertChannelConfig, AlertTransport, Secret, SmtpSecurity};

/// An e-mail channel.
pub(super) struct Email {
    host: String,
    port: u16,
    security: SmtpSecurity,
    login: Option<(String, Secret)>,
    from: String,
    to: Vec<String>,
    timeout: Duration,
}

impl Email {
    /// The channel `config` describes (whose transport is e-mail).
    pub(super) fn new(config: &AlertChannelConfig) -> Email {
        let AlertTransport::Email {
            host,
            port,
            security,
            login,
            from,
            to,
        } = &config.transport
        else {
            unreachable!("an e-mail channel is built from e-mail settings")
        };
        Email {
            host: host.clone(),
            port: *port,
            security: *security,
            login: login.clone(),
            from: from.clone(),
            to: to.clone(),
            timeout: config.timeout,
        }
    }

    fn mailer(&self) -> Result<SmtpTransport, String> {
        let builder = match self.security {
            SmtpSecurity::StartTls => SmtpTransport::starttls_relay(&self.host),
            SmtpSecurity::Tls => SmtpTransport::relay(&self.host),
            SmtpSecurity::None => Ok(SmtpTransport::builder_dangerous(&self.host)),
        }
        .map_err(|e| format!("cannot use {}: {e}", self.host))?;
        let mut builder = builder.port(self.port).timeout(Some(self.timeout));
        if let Some((user, secret)) = &self.login {
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
            .from(self.from.parse().map_err(|e| format!("from: {e}"))?)
            .subject(message.title())
            .message_id(Some(format!("<{}@cartferry>", message.id)));
        for to in &self.to {
            mail = mail.to(to.parse().map_err(|e| format!("to {to}: {e}"))?);
        }
        let mail = mail
            .header(ContentType::TEXT_PLAIN)
            .body(message.text())
            .map_err(|e| format!("cannot build the e-mail: {e}"))?;
        let answer = self
            .mailer()?
            .send(&mail)
            .map_err(|e| format!("{}:{} did not take the e-mail: {e}", self.host, self.port))?;
        Ok(format!(
            "{}:{} answered {} {}",
            self.host,
            self.port,
            answer.code(),
            answer.message().collect::<Vec<_>>().join(" ")
        ))
    }
}
