#include "ConsentPage.h"

#include <QUrl>

#include "ClientMetadata.h"

namespace fmb {
namespace {

const QString Style = QStringLiteral(
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "h1{font-size:1.4rem}code{background:#f2f2f2;padding:0 .2rem;word-break:break-all}"
    ".warn{background:#fff4e5;border-left:4px solid #f0a020;padding:.5rem .8rem}"
    "button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.8rem}");

QString page(const QString &title, const QString &body)
{
    return QStringLiteral("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                          "<meta name=\"referrer\" content=\"no-referrer\">"
                          "<title>%1</title><style>%2</style></head>\n<body>\n%3</body></html>\n")
        .arg(htmlEscape(title), Style, body);
}

} // namespace

QString htmlEscape(QStringView text)
{
    QString out;
    out.reserve(text.size() + text.size() / 8);
    for (QChar c : text) {
        switch (c.unicode()) {
        case u'&':
            out.append(QLatin1String("&amp;"));
            break;
        case u'<':
            out.append(QLatin1String("&lt;"));
            break;
        case u'>':
            out.append(QLatin1String("&gt;"));
            break;
        case u'"':
            out.append(QLatin1String("&quot;"));
            break;
        case u'\'':
            out.append(QLatin1String("&#39;"));
            break;
        default:
            out.append(c);
        }
    }
    return out;
}

QByteArray renderConsentPage(const ConsentView &view)
{
    const QUrl redirect(view.redirectUri);
    // Where the code goes, plainly: scheme and host (and port), e.g.
    // "cursor://anysphere.cursor-mcp" or "https://claude.ai".
    const QString redirectTarget =
        redirect.toString(QUrl::RemoveUserInfo | QUrl::RemovePath | QUrl::RemoveQuery | QUrl::RemoveFragment);
    const QString scheme = redirect.scheme().toLower();
    const bool loopback = scheme == QLatin1String("http") && isLoopbackHost(redirect.host());
    const bool app = scheme != QLatin1String("http") && scheme != QLatin1String("https");
    const QString name =
        view.clientName.isEmpty() ? QStringLiteral("An MCP client that gave no name") : view.clientName;
    QString body;
    body += QStringLiteral("<h1>Allow %1 to use your %2 account?</h1>\n")
                .arg(htmlEscape(name).prepend(QStringLiteral("<strong>")).append(QStringLiteral("</strong>")),
                     htmlEscape(view.upstreamName));
    body += QStringLiteral("<p>Client ID: <code>%1</code>").arg(htmlEscape(view.clientId));
    if (view.metadataDocument)
        body +=
            QStringLiteral(" (published by <strong>%1</strong>)").arg(htmlEscape(QUrl(view.clientId).host()));
    body += QStringLiteral("</p>\n");
    if (!view.userLogin.isEmpty()) {
        body += QStringLiteral("<p>You are signed in as <strong>%1</strong>.</p>\n")
                    .arg(htmlEscape(view.userLogin));
    }
    body += QStringLiteral(
                "<p>If you allow it, you will sign in at %1 (<code>%2</code>) and the client will "
                "receive access on your behalf at:</p>\n<p><strong>%3</strong><br><code>%4</code></p>\n")
                .arg(htmlEscape(view.upstreamName), htmlEscape(view.upstreamHost), htmlEscape(redirectTarget),
                     htmlEscape(view.redirectUri));
    if (loopback) {
        body += QStringLiteral("<p class=\"warn\">This address is a program on your own computer. Only allow "
                               "this if you started the sign-in from an MCP client on this computer just "
                               "now.</p>\n");
    }
    if (app) {
        body += QStringLiteral("<p class=\"warn\">This address opens an app on your computer that handles "
                               "<code>%1:</code> addresses. Only allow this if you started the sign-in from "
                               "that app just now.</p>\n")
                    .arg(htmlEscape(redirect.scheme()));
    }
    if (!view.scopes.isEmpty()) {
        body += QStringLiteral("<p>Requested access:</p>\n<ul>\n");
        for (const QString &scope : view.scopes)
            body += QStringLiteral("<li><code>%1</code></li>\n").arg(htmlEscape(scope));
        body += QStringLiteral("</ul>\n");
    }
    body += QStringLiteral("<form method=\"post\" action=\"%1\">\n"
                           "<input type=\"hidden\" name=\"request_id\" value=\"%2\">\n"
                           "<input type=\"hidden\" name=\"csrf_token\" value=\"%3\">\n"
                           "<button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\n"
                           "<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n"
                           "</form>\n")
                .arg(htmlEscape(view.formAction), htmlEscape(view.requestId), htmlEscape(view.csrfToken));
    return page(QStringLiteral("Allow access?"), body).toUtf8();
}

QByteArray renderErrorPage(const QString &title, const QString &message)
{
    return page(title, QStringLiteral("<h1>%1</h1>\n<p>%2</p>\n").arg(htmlEscape(title), htmlEscape(message)))
        .toUtf8();
}

} // namespace fmb
