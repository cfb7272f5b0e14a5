#pragma once

#include <QByteArray>
#include <QString>
#include <QStringList>

// The broker's own HTML pages: the consent page (MCP 2025-11-25 security
// best practices, "Consent UI Requirements") and error pages. Pure; every
// value is HTML-escaped.
namespace fmb {

struct ConsentView {
    QString clientName; // may be empty: the page then says the client gave none
    QString clientId;
    bool metadataDocument = false; // the client_id is a metadata document URL
    QString redirectUri;
    QStringList scopes;
    QString userLogin;    // empty while the user is not known yet
    QString upstreamName; // "Forgejo"
    QString upstreamHost;
    QString formAction; // absolute URL of POST /oauth/consent
    QString requestId;
    QString csrfToken;
};

[[nodiscard]] QString htmlEscape(QStringView text);

// A form that POSTs its hidden fields (request_id, csrf_token) with
// decision=approve or decision=deny.
[[nodiscard]] QByteArray renderConsentPage(const ConsentView &view);
[[nodiscard]] QByteArray renderErrorPage(const QString &title, const QString &message);

} // namespace fmb
