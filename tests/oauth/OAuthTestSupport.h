#pragma once

#include <utility>

#include <QByteArray>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QNetworkReply>
#include <QProcess>
#include <QString>
#include <QTcpServer>
#include <QUrl>

class QNetworkAccessManager;

// Helpers shared by the oauth tests: a synchronous HTTP call, a browser-like
// user agent that echoes cookies (also Secure ones over plain http), a tiny
// canned HTTP server and the fake Forgejo process.
namespace fmbtest {

using Headers = QList<std::pair<QByteArray, QByteArray>>;

struct HttpResult {
    int status = 0; // 0: no HTTP answer (see error)
    QNetworkReply::NetworkError error = QNetworkReply::NoError;
    QByteArray body;
    Headers headers;

    [[nodiscard]] QByteArray header(QByteArrayView name) const;
    [[nodiscard]] QList<QByteArray> setCookies() const;
    [[nodiscard]] QJsonObject json() const;
    [[nodiscard]] QUrl location() const;
    // "401 {...}" for failure messages
    [[nodiscard]] QByteArray describe() const;
};

// One request without redirects or cookie jar; waits up to `timeoutMs`.
HttpResult http(QNetworkAccessManager *network, const QByteArray &verb, const QUrl &url,
                const QByteArray &body = {}, const Headers &headers = {}, int timeoutMs = 15000);

// The query items of a URL, '+' as space, as a hash (last wins).
QHash<QString, QString> queryOf(const QUrl &url);

// Registers a public client (RFC 7591, PKCE, no secret) at `registerUrl`;
// its client_id, or empty (with a warning) when the answer is not 201.
QString registerPublicClient(QNetworkAccessManager *network, const QUrl &registerUrl, const QString &name,
                             const QStringList &redirectUris);

// An HTML form: its action and hidden fields.
struct HtmlForm {
    QString action;
    QList<std::pair<QString, QString>> fields;
};
[[nodiscard]] bool parseForm(const QByteArray &html, HtmlForm *form);
[[nodiscard]] QByteArray encodeForm(const QList<std::pair<QString, QString>> &fields);

// A headless browser: keeps cookies per host:port (ignoring Secure, since the
// tests speak plain http), sends them back, follows redirects on request.
class UserAgent {
public:
    explicit UserAgent(QNetworkAccessManager *network);

    HttpResult get(const QUrl &url);
    HttpResult postForm(const QUrl &url, const QByteArray &form);
    // Follows 301/302/303 from `answer` until one points at `stopPrefix`
    // (the client's redirect URI, where nothing listens) or is not a redirect.
    HttpResult follow(HttpResult answer, const QString &stopPrefix, int maxHops = 10);

    void clear() { m_cookies.clear(); }
    [[nodiscard]] QByteArray cookie(const QUrl &url, const QByteArray &name) const;
    void setCookie(const QUrl &url, const QByteArray &name, const QByteArray &value);
    void removeCookie(const QUrl &url, const QByteArray &name);

private:
    HttpResult send(const QByteArray &verb, const QUrl &url, const QByteArray &body, Headers headers);
    static QString origin(const QUrl &url);

    QNetworkAccessManager *m_network;
    QHash<QString, QHash<QByteArray, QByteArray>> m_cookies; // origin -> name -> value
};

// Answers every request with a canned response by path (or the default),
// or, when `silent`, accepts connections and never answers.
class CannedHttpServer : public QTcpServer {
    Q_OBJECT
public:
    struct Answer {
        int status = 200;
        QByteArray contentType = "application/json";
        QByteArray body;
        Headers headers;
    };
    explicit CannedHttpServer(QObject *parent = nullptr);

    bool start();
    [[nodiscard]] QUrl url(const QString &path) const;
    void setAnswer(const QByteArray &path, const Answer &answer) { m_answers.insert(path, answer); }
    void setDefaultAnswer(const Answer &answer) { m_default = answer; }
    void setSilent(bool silent) { m_silent = silent; }
    [[nodiscard]] int requests() const { return m_requests; }
    [[nodiscard]] QByteArray lastRequest() const { return m_lastRequest; }

private:
    void onConnection();

    QHash<QByteArray, Answer> m_answers;
    Answer m_default{404, "text/plain", "not found\n", {}};
    bool m_silent = false;
    int m_requests = 0;
    QByteArray m_lastRequest;
};

// fmb-fake-forgejo as a child process on 127.0.0.1:0.
class FakeForgejo {
public:
    FakeForgejo() = default;
    ~FakeForgejo();
    FakeForgejo(const FakeForgejo &) = delete;
    FakeForgejo &operator=(const FakeForgejo &) = delete;

    // Starts it with --client-id/--client-secret/--redirect-uri and `extra`;
    // waits for "listening on http://…".
    bool start(const QString &clientId, const QString &clientSecret, const QString &redirectUri,
               const QStringList &extra = {});
    void stop();
    [[nodiscard]] QUrl url(const QString &path) const;
    [[nodiscard]] QByteArray output() const { return m_stderr; }

    HttpResult control(QNetworkAccessManager *network, const QString &path, const QJsonObject &body);
    QJsonObject stats(QNetworkAccessManager *network);

private:
    QProcess m_process;
    QUrl m_base;
    QByteArray m_stderr;
};

} // namespace fmbtest
