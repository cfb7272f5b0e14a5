#include "DaemonHarness.h"

#include <QEventLoop>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkReply>
#include <QRegularExpression>
#include <QTimer>

namespace fmb::test {
namespace {

constexpr int RequestTimeoutMs = 15000;

} // namespace

DaemonHarness::DaemonHarness(QString adminSocket)
    : m_adminSocket(std::move(adminSocket))
{}

QString DaemonHarness::log()
{
    return QString::fromUtf8(m_daemon.log());
}

bool DaemonHarness::start(const QStringList &extraArguments)
{
    const QStringList arguments = QStringList{QStringLiteral("--child-stop-grace"), QStringLiteral("1s"),
                                              QStringLiteral("--admin-socket"), m_adminSocket} +
                                  extraArguments;
    static const QRegularExpression adminListening(QStringLiteral("admin socket listening on "));
    if (!m_daemon.start(arguments) || !m_daemon.waitForListening() ||
        !m_daemon.waitForLine(adminListening).hasMatch()) {
        m_error = m_daemon.failure();
        return false;
    }
    m_mcpUrl = QUrl(m_daemon.url().toString() + QLatin1String("/mcp"));
    return true;
}

void DaemonHarness::stop()
{
    (void)m_daemon.stop();
}

QString DaemonHarness::createSession(const QString &clientName)
{
    QNetworkRequest request(m_mcpUrl);
    request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
    request.setRawHeader("Accept", "application/json, text/event-stream");
    const QJsonObject body{
        {QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
        {QStringLiteral("id"), m_nextRequestId++},
        {QStringLiteral("method"), QStringLiteral("initialize")},
        {QStringLiteral("params"),
         QJsonObject{{QStringLiteral("protocolVersion"), QStringLiteral("2025-06-18")},
                     {QStringLiteral("capabilities"), QJsonObject{}},
                     {QStringLiteral("clientInfo"),
                      QJsonObject{{QStringLiteral("name"), clientName},
                                  {QStringLiteral("version"), QStringLiteral("1.0")}}}}},
    };
    QNetworkReply *reply = m_network.post(request, QJsonDocument(body).toJson(QJsonDocument::Compact));
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(RequestTimeoutMs, &loop, &QEventLoop::quit);
    loop.exec();
    const QString id = QString::fromLatin1(reply->rawHeader("Mcp-Session-Id"));
    if (!reply->isFinished() || id.isEmpty()) {
        m_error = QStringLiteral("initialize failed: HTTP %1, %2")
                      .arg(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt())
                      .arg(reply->errorString());
    }
    reply->abort();
    reply->deleteLater();
    return id;
}

bool DaemonHarness::ping(const QString &sessionId)
{
    QNetworkRequest request(m_mcpUrl);
    request.setRawHeader("Mcp-Session-Id", sessionId.toLatin1());
    request.setRawHeader("MCP-Protocol-Version", "2025-06-18");
    return postOk(request, QJsonObject{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                                       {QStringLiteral("id"), m_nextRequestId++},
                                       {QStringLiteral("method"), QStringLiteral("ping")}});
}

bool DaemonHarness::discover()
{
    QNetworkRequest request(m_mcpUrl);
    request.setRawHeader("MCP-Protocol-Version", "2026-07-28");
    request.setRawHeader("Mcp-Method", "server/discover");
    const QJsonObject meta{
        {QStringLiteral("io.modelcontextprotocol/protocolVersion"), QStringLiteral("2026-07-28")},
        {QStringLiteral("io.modelcontextprotocol/clientCapabilities"), QJsonObject()}};
    return postOk(request,
                  QJsonObject{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                              {QStringLiteral("id"), m_nextRequestId++},
                              {QStringLiteral("method"), QStringLiteral("server/discover")},
                              {QStringLiteral("params"), QJsonObject{{QStringLiteral("_meta"), meta}}}});
}

bool DaemonHarness::postOk(QNetworkRequest request, const QJsonObject &body)
{
    request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
    request.setRawHeader("Accept", "application/json, text/event-stream");
    QNetworkReply *reply = m_network.post(request, QJsonDocument(body).toJson(QJsonDocument::Compact));
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(RequestTimeoutMs, &loop, &QEventLoop::quit);
    loop.exec();
    const bool ok = reply->isFinished() && reply->error() == QNetworkReply::NoError;
    reply->abort();
    reply->deleteLater();
    return ok;
}

bool processExists(qint64 pid)
{
    return pid > 0 && QFileInfo::exists(QStringLiteral("/proc/%1").arg(pid));
}

} // namespace fmb::test
