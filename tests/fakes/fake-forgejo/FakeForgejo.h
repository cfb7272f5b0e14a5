#pragma once

#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QHostAddress>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

class QHttpServer;
class QHttpServerRequest;
class QHttpServerResponse;

namespace fmb::fake {

struct FakeUser {
    qint64 id = 0;
    QString login;
};

// Start-up settings; main.cpp fills them from the command line (see README.md).
struct FakeConfig {
    QString clientId;
    QByteArray clientSecret;               // never logged
    bool confidential = true;              // --public-client turns it off (PKCE then required)
    QStringList redirectUris;              // matched case-insensitively, trailing "/" ignored (Forgejo)
    qint64 accessTtlSeconds = 3600;        // Forgejo ACCESS_TOKEN_EXPIRATION_TIME
    qint64 refreshTtlSeconds = 730 * 3600; // Forgejo REFRESH_TOKEN_EXPIRATION_TIME = 730h
    qint64 codeTtlSeconds = 600;
    bool invalidateRefreshTokens = true; // Forgejo INVALIDATE_REFRESH_TOKENS
    QList<FakeUser> users;               // the first is the user logged in at start
};

// A fake Forgejo OAuth2 provider plus GET /api/v1/user, served from memory on
// one thread; every handler answers synchronously from the event loop. The
// model follows Forgejo's: one grant per (user, application) with a counter,
// bumped on every token issue when refresh tokens are invalidated, so only the
// newest refresh token of a user is live. Tokens are opaque random strings;
// logs carry only their fingerprints (first 8 hex digits of SHA-256).
class FakeForgejo final : public QObject {
    Q_OBJECT
public:
    explicit FakeForgejo(FakeConfig config, QObject *parent = nullptr);
    ~FakeForgejo() override;

    // Binds and starts serving; returns the port, or 0 with errorString() set.
    [[nodiscard]] quint16 listen(const QHostAddress &address, quint16 port);
    [[nodiscard]] QString errorString() const { return m_errorString; }
    [[nodiscard]] QString baseUrl() const { return m_baseUrl; }

private:
    struct Grant {
        qint64 id = 0;
        qint64 counter = 1; // Forgejo: NOT NULL DEFAULT 1
    };
    struct AuthCode {
        qint64 grantId = 0;
        qint64 userId = 0;
        QString redirectUri;
        QString challenge;
        QString challengeMethod;
        qint64 expiresAtMs = 0;
    };
    struct IssuedToken {
        qint64 grantId = 0;
        qint64 userId = 0;
        qint64 counter = 0; // refresh tokens only
        qint64 expiresAtMs = 0;
        QString issuedAt; // wall clock, ISO 8601, for /_fake/tokens
        QString via;      // "authorization_code" or "refresh_token"
        bool refresh = false;
    };
    struct UserStats {
        int codeExchanges = 0;
        int refreshes = 0;
    };

    void addRoutes();

    QHttpServerResponse authorize(const QHttpServerRequest &request);
    QHttpServerResponse accessToken(const QHttpServerRequest &request);
    QHttpServerResponse exchangeCode(const QHash<QString, QString> &form);
    QHttpServerResponse refreshToken(const QHash<QString, QString> &form);
    QHttpServerResponse apiUser(const QHttpServerRequest &request);
    QHttpServerResponse userInfo(const QHttpServerRequest &request);
    QHttpServerResponse wellKnown() const;

    QHttpServerResponse fakeLogin(const QHttpServerRequest &request);
    QHttpServerResponse fakeStats() const;
    QHttpServerResponse fakeTokens() const;
    QHttpServerResponse fakeFailRefresh(const QHttpServerRequest &request);
    QHttpServerResponse fakeExpireAll();
    QHttpServerResponse fakeAccessTtl(const QHttpServerRequest &request);
    QHttpServerResponse fakeRevoke(const QHttpServerRequest &request);

    [[nodiscard]] QJsonObject issueTokens(qint64 userId, const QString &via);
    // The user behind a live access token, or nullptr.
    [[nodiscard]] const FakeUser *userForAccessToken(const QByteArray &token) const;
    [[nodiscard]] bool isLive(const IssuedToken &token) const;
    [[nodiscard]] int liveAccessTokens(qint64 userId = -1) const;
    [[nodiscard]] const FakeUser *findUser(const QString &login) const;
    [[nodiscard]] const FakeUser *findUser(qint64 id) const;
    [[nodiscard]] bool redirectUriRegistered(const QString &uri) const;
    [[nodiscard]] bool secretMatches(const QString &secret) const;
    [[nodiscard]] QJsonObject userJson(const FakeUser &user) const;
    [[nodiscard]] qint64 nowMs() const { return m_clock.elapsed(); }

    FakeConfig m_config;
    QHttpServer *m_server = nullptr; // child
    QString m_errorString;
    QString m_baseUrl;
    QElapsedTimer m_clock; // monotonic: token expiry ignores wall-clock jumps

    QString m_currentLogin;
    qint64 m_nextGrantId = 1;
    QHash<qint64, Grant> m_grants;           // by user id
    QHash<QByteArray, AuthCode> m_codes;     // by code
    QHash<QByteArray, IssuedToken> m_tokens; // access and refresh tokens, by token
    QList<QByteArray> m_tokenOrder;          // issue order, for /_fake/tokens
    QHash<qint64, UserStats> m_userStats;    // by user id

    int m_tokenAnswerDelayMs = 0; // /_fake/access-ttl answer_delay_ms
    bool m_failRefresh = false;
    QString m_failRefreshError;
    QString m_failRefreshDescription;

    int m_authorizations = 0;
    int m_codeExchanges = 0;
    int m_codeExchangeFailures = 0;
    int m_refreshes = 0;
    int m_refreshFailures = 0;
};

} // namespace fmb::fake
