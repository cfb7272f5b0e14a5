#include "OAuthTestSupport.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkRequest>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QTest>

namespace fmbtest {

QByteArray HttpResult::header(QByteArrayView name) const
{
    for (const auto &[key, value] : headers) {
        if (key.compare(name, Qt::CaseInsensitive) == 0)
            return value;
    }
    return {};
}

QList<QByteArray> HttpResult::setCookies() const
{
    QList<QByteArray> out;
    for (const auto &[key, value] : headers) {
        // Qt joins repeated Set-Cookie headers with '\n'.
        if (key.compare("set-cookie", Qt::CaseInsensitive) == 0)
            out.append(value.split('\n'));
    }
    return out;
}

QJsonObject HttpResult::json() const
{
    return QJsonDocument::fromJson(body).object();
}

QUrl HttpResult::location() const
{
    return QUrl::fromEncoded(header("location"));
}

QByteArray HttpResult::describe() const
{
    return QByteArray::number(status) + ' ' + header("location") + ' ' + body.left(600);
}

HttpResult http(QNetworkAccessManager *network, const QByteArray &verb, const QUrl &url,
                const QByteArray &body, const Headers &headers, int timeoutMs)
{
    QNetworkRequest request(url);
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    request.setAttribute(QNetworkRequest::CookieLoadControlAttribute, QNetworkRequest::Manual);
    request.setAttribute(QNetworkRequest::CookieSaveControlAttribute, QNetworkRequest::Manual);
    for (const auto &[name, value] : headers)
        request.setRawHeader(name, value);
    QNetworkReply *reply = network->sendCustomRequest(request, verb, body);
    QSignalSpy finished(reply, &QNetworkReply::finished);
    if (!reply->isFinished())
        finished.wait(timeoutMs);
    HttpResult result;
    if (!reply->isFinished()) {
        reply->abort();
        result.error = QNetworkReply::TimeoutError;
    } else {
        result.error = reply->error();
    }
    result.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    result.body = reply->readAll();
    result.headers = reply->rawHeaderPairs();
    reply->deleteLater();
    return result;
}

QHash<QString, QString> queryOf(const QUrl &url)
{
    QHash<QString, QString> out;
    const QList<QByteArray> pieces = url.query(QUrl::FullyEncoded).toLatin1().split('&');
    for (QByteArray piece : pieces) {
        if (piece.isEmpty())
            continue;
        piece.replace('+', ' ');
        const qsizetype equals = piece.indexOf('=');
        out.insert(QString::fromUtf8(QByteArray::fromPercentEncoding(piece.left(equals))),
                   equals < 0 ? QString()
                              : QString::fromUtf8(QByteArray::fromPercentEncoding(piece.mid(equals + 1))));
    }
    return out;
}

namespace {

QString unescapeHtml(QString text)
{
    text.replace(QLatin1String("&quot;"), QLatin1String("\""));
    text.replace(QLatin1String("&#39;"), QLatin1String("'"));
    text.replace(QLatin1String("&lt;"), QLatin1String("<"));
    text.replace(QLatin1String("&gt;"), QLatin1String(">"));
    text.replace(QLatin1String("&amp;"), QLatin1String("&"));
    return text;
}

} // namespace

bool parseForm(const QByteArray &html, HtmlForm *form)
{
    const QString text = QString::fromUtf8(html);
    static const QRegularExpression formTag(QStringLiteral("<form\\b[^>]*\\baction=\"([^\"]*)\"[^>]*>"),
                                            QRegularExpression::CaseInsensitiveOption);
    static const QRegularExpression input(QStringLiteral("<input\\b[^>]*>"),
                                          QRegularExpression::CaseInsensitiveOption);
    static const QRegularExpression attribute(QStringLiteral("\\b(type|name|value)=\"([^\"]*)\""),
                                              QRegularExpression::CaseInsensitiveOption);
    const QRegularExpressionMatch match = formTag.match(text);
    if (!match.hasMatch())
        return false;
    form->action = unescapeHtml(match.captured(1));
    form->fields.clear();
    auto inputs = input.globalMatch(text, match.capturedEnd());
    while (inputs.hasNext()) {
        const QString tag = inputs.next().captured(0);
        QString type, name, value;
        auto attributes = attribute.globalMatch(tag);
        while (attributes.hasNext()) {
            const QRegularExpressionMatch a = attributes.next();
            const QString key = a.captured(1).toLower();
            if (key == QLatin1String("type"))
                type = a.captured(2).toLower();
            else if (key == QLatin1String("name"))
                name = unescapeHtml(a.captured(2));
            else
                value = unescapeHtml(a.captured(2));
        }
        if (type == QLatin1String("hidden") && !name.isEmpty())
            form->fields.append({name, value});
    }
    return true;
}

QByteArray encodeForm(const QList<std::pair<QString, QString>> &fields)
{
    QByteArray out;
    for (const auto &[name, value] : fields) {
        if (!out.isEmpty())
            out.append('&');
        out.append(QUrl::toPercentEncoding(name)).append('=').append(QUrl::toPercentEncoding(value));
    }
    return out;
}

UserAgent::UserAgent(QNetworkAccessManager *network)
    : m_network(network)
{}

QString UserAgent::origin(const QUrl &url)
{
    return url.host() + QLatin1Char(':') + QString::number(url.port(80));
}

QByteArray UserAgent::cookie(const QUrl &url, const QByteArray &name) const
{
    return m_cookies.value(origin(url)).value(name);
}

void UserAgent::setCookie(const QUrl &url, const QByteArray &name, const QByteArray &value)
{
    m_cookies[origin(url)].insert(name, value);
}

void UserAgent::removeCookie(const QUrl &url, const QByteArray &name)
{
    m_cookies[origin(url)].remove(name);
}

HttpResult UserAgent::send(const QByteArray &verb, const QUrl &url, const QByteArray &body, Headers headers)
{
    const QHash<QByteArray, QByteArray> jar = m_cookies.value(origin(url));
    if (!jar.isEmpty()) {
        QByteArray cookies;
        for (auto it = jar.constBegin(); it != jar.constEnd(); ++it) {
            if (!cookies.isEmpty())
                cookies.append("; ");
            cookies.append(it.key()).append('=').append(it.value());
        }
        headers.append({"Cookie", cookies});
    }
    HttpResult result = http(m_network, verb, url, body, headers);
    for (const QByteArray &setCookie : result.setCookies()) {
        const QList<QByteArray> parts = setCookie.split(';');
        const QByteArray pair = parts.first().trimmed();
        const qsizetype equals = pair.indexOf('=');
        if (equals <= 0)
            continue;
        const QByteArray name = pair.left(equals);
        bool remove = false;
        for (qsizetype i = 1; i < parts.size(); ++i) {
            if (parts.at(i).trimmed().compare("max-age=0", Qt::CaseInsensitive) == 0)
                remove = true;
        }
        if (remove)
            m_cookies[origin(url)].remove(name);
        else
            m_cookies[origin(url)].insert(name, pair.mid(equals + 1));
    }
    return result;
}

HttpResult UserAgent::get(const QUrl &url)
{
    return send("GET", url, {}, {});
}

HttpResult UserAgent::postForm(const QUrl &url, const QByteArray &form)
{
    return send("POST", url, form, {{"Content-Type", "application/x-www-form-urlencoded"}});
}

HttpResult UserAgent::follow(HttpResult answer, const QString &stopPrefix, int maxHops)
{
    for (int hop = 0; hop < maxHops; ++hop) {
        if (answer.status != 301 && answer.status != 302 && answer.status != 303)
            return answer;
        const QUrl next = answer.location();
        if (!stopPrefix.isEmpty() && next.toString().startsWith(stopPrefix))
            return answer;
        answer = get(next);
    }
    return answer;
}

CannedHttpServer::CannedHttpServer(QObject *parent)
    : QTcpServer(parent)
{
    connect(this, &QTcpServer::newConnection, this, &CannedHttpServer::onConnection);
}

bool CannedHttpServer::start()
{
    return listen(QHostAddress::LocalHost, 0);
}

QUrl CannedHttpServer::url(const QString &path) const
{
    return QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(serverPort()).arg(path));
}

void CannedHttpServer::onConnection()
{
    while (QTcpSocket *socket = nextPendingConnection()) {
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        auto buffer = std::make_shared<QByteArray>();
        connect(socket, &QTcpSocket::readyRead, this, [this, socket, buffer] {
            buffer->append(socket->readAll());
            const qsizetype end = buffer->indexOf("\r\n\r\n");
            if (end < 0 || m_silent)
                return;
            ++m_requests;
            m_lastRequest = *buffer;
            const QList<QByteArray> requestLine = buffer->left(buffer->indexOf("\r\n")).split(' ');
            QByteArray path = requestLine.value(1);
            if (path.contains('?'))
                path.truncate(path.indexOf('?'));
            buffer->clear();
            const Answer answer = m_answers.value(path, m_default);
            QByteArray response = "HTTP/1.1 " + QByteArray::number(answer.status) + " Canned\r\n";
            if (!answer.contentType.isEmpty())
                response += "Content-Type: " + answer.contentType + "\r\n";
            for (const auto &[name, value] : answer.headers)
                response += name + ": " + value + "\r\n";
            response +=
                "Content-Length: " + QByteArray::number(answer.body.size()) + "\r\nConnection: close\r\n\r\n";
            response += answer.body;
            socket->write(response);
            socket->disconnectFromHost();
        });
    }
}

FakeForgejo::~FakeForgejo()
{
    stop();
}

bool FakeForgejo::start(const QString &clientId, const QString &clientSecret, const QString &redirectUri,
                        const QStringList &extra)
{
    QStringList arguments{QStringLiteral("--listen"),        QStringLiteral("127.0.0.1:0"),
                          QStringLiteral("--client-id"),     clientId,
                          QStringLiteral("--client-secret"), clientSecret,
                          QStringLiteral("--redirect-uri"),  redirectUri};
    arguments += extra;
    QObject::connect(&m_process, &QProcess::readyReadStandardError, &m_process, [this] {
        m_stderr.append(m_process.readAllStandardError());
        if (m_stderr.size() > 1024 * 1024)
            m_stderr = m_stderr.right(512 * 1024);
    });
    m_process.setProcessChannelMode(QProcess::SeparateChannels);
    m_process.setStandardOutputFile(QProcess::nullDevice());
    m_process.start(QStringLiteral(FMB_TEST_BIN_DIR "/fmb-fake-forgejo"), arguments);
    if (!m_process.waitForStarted(10000))
        return false;
    static const QRegularExpression listening(QStringLiteral("listening on (http://[^\\s]+)"));
    const bool up = QTest::qWaitFor(
        [this] {
            return listening.match(QString::fromUtf8(m_stderr)).hasMatch() ||
                   m_process.state() == QProcess::NotRunning;
        },
        10000);
    const QRegularExpressionMatch match = listening.match(QString::fromUtf8(m_stderr));
    if (!up || !match.hasMatch())
        return false;
    m_base = QUrl(match.captured(1));
    return true;
}

void FakeForgejo::stop()
{
    if (m_process.state() == QProcess::NotRunning)
        return;
    m_process.terminate();
    if (!m_process.waitForFinished(5000)) {
        m_process.kill();
        m_process.waitForFinished(5000);
    }
}

QUrl FakeForgejo::url(const QString &path) const
{
    return m_base.resolved(QUrl(path));
}

HttpResult FakeForgejo::control(QNetworkAccessManager *network, const QString &path, const QJsonObject &body)
{
    return http(network, "POST", url(path), QJsonDocument(body).toJson(QJsonDocument::Compact),
                {{"Content-Type", "application/json"}});
}

QJsonObject FakeForgejo::stats(QNetworkAccessManager *network)
{
    return http(network, "GET", url(QStringLiteral("/_fake/stats"))).json();
}

QString registerPublicClient(QNetworkAccessManager *network, const QUrl &registerUrl, const QString &name,
                             const QStringList &redirectUris)
{
    const QJsonObject request{{QStringLiteral("client_name"), name},
                              {QStringLiteral("redirect_uris"), QJsonArray::fromStringList(redirectUris)},
                              {QStringLiteral("grant_types"), QJsonArray{QStringLiteral("authorization_code"),
                                                                         QStringLiteral("refresh_token")}},
                              {QStringLiteral("response_types"), QJsonArray{QStringLiteral("code")}},
                              {QStringLiteral("token_endpoint_auth_method"), QStringLiteral("none")}};
    const HttpResult answer =
        http(network, "POST", registerUrl, QJsonDocument(request).toJson(QJsonDocument::Compact),
             {{"Content-Type", "application/json"}});
    if (answer.status != 201)
        qWarning() << "registration failed:" << answer.describe();
    return answer.json().value(QStringLiteral("client_id")).toString();
}

} // namespace fmbtest
