#pragma once

#include <functional>

#include <QByteArray>
#include <QDateTime>
#include <QObject>
#include <QString>
#include <QUrl>

#include "base/Result.h"
#include "store/StoreRecords.h"

class QNetworkAccessManager;

namespace fmb {

// The broker's one OAuth2 application at the upstream forge (Forgejo, Gitea,
// or anything of the same shape). Endpoints default from the Forgejo base URL
// (/login/oauth/authorize, /login/oauth/access_token, /api/v1/user).
struct UpstreamConfig {
    QUrl authorizeUrl;
    QUrl tokenUrl;
    QUrl userUrl;
    QString clientId;
    QByteArray clientSecret; // a secret: never logged
    QUrl redirectUri;        // <public-url>/oauth/callback
    int timeoutMs = 15000;
};

struct UpstreamUser {
    qint64 id = 0;
    QString login;
};

// Talks to the upstream token and user endpoints (async, QNetworkAccessManager).
// Every callback runs once on this object's thread, never before the call
// returns. Errors: Unauthorized for invalid_grant / 401 (the refresh token is
// spent or revoked: the grant is dead), Unavailable for network failures and
// 5xx (try again later), InvalidArgument for malformed answers.
class UpstreamClient : public QObject {
    Q_OBJECT
public:
    using TokensCallback = std::function<void(Result<UpstreamTokens>)>;
    using UserCallback = std::function<void(Result<UpstreamUser>)>;

    explicit UpstreamClient(UpstreamConfig config, QObject *parent = nullptr);
    ~UpstreamClient() override;

    [[nodiscard]] const UpstreamConfig &config() const { return m_config; }
    // Where to send the user: PKCE S256 upstream too (challenge from our verifier).
    [[nodiscard]] QUrl authorizeUrl(const QString &state, const QString &codeChallenge) const;
    virtual void exchangeCode(const QString &code, const QString &codeVerifier, TokensCallback done);
    virtual void refresh(const QByteArray &refreshToken, TokensCallback done);
    virtual void fetchUser(const QByteArray &accessToken, UserCallback done);

private:
    UpstreamConfig m_config;
    QNetworkAccessManager *m_network = nullptr; // child
};

} // namespace fmb
