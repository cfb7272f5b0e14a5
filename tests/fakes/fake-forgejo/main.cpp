// fmb-fake-forgejo: a fake Forgejo OAuth2 provider on loopback for the
// broker's tests (authorize, access_token, /api/v1/user, plus /_fake/ test
// controls). See README.md beside this file for flags and endpoints.
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <sys/socket.h>
#include <unistd.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QFile>
#include <QHostAddress>
#include <QSocketNotifier>

#include "FakeForgejo.h"

namespace {

int g_signalPipe[2] = {-1, -1};

void onTerminationSignal(int)
{
    const char byte = 1;
    [[maybe_unused]] const ssize_t n = ::write(g_signalPipe[0], &byte, 1);
}

void printLine(const QString &line)
{
    const QByteArray bytes = line.toUtf8() + '\n';
    std::fwrite(bytes.constData(), 1, static_cast<size_t>(bytes.size()), stderr);
    std::fflush(stderr);
}

[[noreturn]] void usageError(const QString &message)
{
    printLine(QStringLiteral("fmb-fake-forgejo: ") + message);
    std::exit(2);
}

qint64 seconds(const QCommandLineParser &parser, const QCommandLineOption &option, qint64 fallback)
{
    if (!parser.isSet(option))
        return fallback;
    bool ok = false;
    const qint64 value = parser.value(option).toLongLong(&ok);
    if (!ok || value < 0) {
        usageError(QStringLiteral("--%1: \"%2\" is not a number of seconds (try 2 or 3600)")
                       .arg(option.names().first(), parser.value(option)));
    }
    return value;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("fmb-fake-forgejo"));
    QCoreApplication::setApplicationVersion(QStringLiteral("1.0"));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Fake Forgejo OAuth2 provider for forgejo-mcp-broker tests"));
    parser.addHelpOption();
    const QCommandLineOption listen(QStringLiteral("listen"),
                                    QStringLiteral("Address to listen on (default 127.0.0.1:0)."),
                                    QStringLiteral("host:port"), QStringLiteral("127.0.0.1:0"));
    const QCommandLineOption clientId(QStringLiteral("client-id"), QStringLiteral("The OAuth2 client id."),
                                      QStringLiteral("id"));
    const QCommandLineOption clientSecret(QStringLiteral("client-secret"),
                                          QStringLiteral("The client secret."), QStringLiteral("secret"));
    const QCommandLineOption clientSecretFile(QStringLiteral("client-secret-file"),
                                              QStringLiteral("Read the client secret from <file>."),
                                              QStringLiteral("file"));
    const QCommandLineOption publicClient(
        QStringLiteral("public-client"),
        QStringLiteral("Register a public client: no secret, PKCE required."));
    const QCommandLineOption redirectUri(QStringLiteral("redirect-uri"),
                                         QStringLiteral("A registered redirect URI (repeatable)."),
                                         QStringLiteral("uri"));
    const QCommandLineOption accessTtl(QStringLiteral("access-ttl"),
                                       QStringLiteral("Access token lifetime in seconds (default 3600)."),
                                       QStringLiteral("seconds"));
    const QCommandLineOption refreshTtl(QStringLiteral("refresh-ttl"),
                                        QStringLiteral("Refresh token lifetime in seconds (default 730h)."),
                                        QStringLiteral("seconds"));
    const QCommandLineOption codeTtl(QStringLiteral("code-ttl"),
                                     QStringLiteral("Authorization code lifetime in seconds (default 600)."),
                                     QStringLiteral("seconds"));
    const QCommandLineOption user(QStringLiteral("user"),
                                  QStringLiteral("A user LOGIN:ID (repeatable; the first is logged in)."),
                                  QStringLiteral("login:id"));
    const QCommandLineOption noInvalidate(QStringLiteral("no-invalidate-refresh"),
                                          QStringLiteral("Keep used refresh tokens valid "
                                                         "(Forgejo INVALIDATE_REFRESH_TOKENS=false)."));
    parser.addOptions({listen, clientId, clientSecret, clientSecretFile, publicClient, redirectUri, accessTtl,
                       refreshTtl, codeTtl, user, noInvalidate});
    parser.process(app);

    fmb::fake::FakeConfig config;
    config.clientId = parser.value(clientId);
    if (config.clientId.isEmpty())
        usageError(QStringLiteral("--client-id is required"));
    config.confidential = !parser.isSet(publicClient);
    if (parser.isSet(clientSecretFile)) {
        QFile file(parser.value(clientSecretFile));
        if (!file.open(QIODevice::ReadOnly))
            usageError(QStringLiteral("--client-secret-file: %1").arg(file.errorString()));
        config.clientSecret = file.readAll().trimmed();
    } else {
        config.clientSecret = parser.value(clientSecret).toUtf8();
    }
    if (config.confidential && config.clientSecret.isEmpty())
        usageError(QStringLiteral("client secret is empty (give --client-secret-file, --client-secret or "
                                  "--public-client)"));
    config.redirectUris = parser.values(redirectUri);
    if (config.redirectUris.isEmpty())
        usageError(QStringLiteral("--redirect-uri is required"));
    config.accessTtlSeconds = seconds(parser, accessTtl, config.accessTtlSeconds);
    config.refreshTtlSeconds = seconds(parser, refreshTtl, config.refreshTtlSeconds);
    config.codeTtlSeconds = seconds(parser, codeTtl, config.codeTtlSeconds);
    config.invalidateRefreshTokens = !parser.isSet(noInvalidate);

    const QStringList users = parser.values(user);
    for (const QString &spec : users) {
        const qsizetype colon = spec.lastIndexOf(QLatin1Char(':'));
        bool ok = colon > 0;
        const qint64 id = ok ? spec.mid(colon + 1).toLongLong(&ok) : 0;
        if (!ok || id <= 0)
            usageError(QStringLiteral("--user: \"%1\" is not LOGIN:ID (try alice:1)").arg(spec));
        const QString login = spec.left(colon);
        for (const fmb::fake::FakeUser &known : std::as_const(config.users)) {
            if (known.login == login || known.id == id)
                usageError(QStringLiteral("--user: \"%1\" repeats a login or id").arg(spec));
        }
        config.users.append(fmb::fake::FakeUser{id, login});
    }

    const QString listenSpec = parser.value(listen);
    const qsizetype colon = listenSpec.lastIndexOf(QLatin1Char(':'));
    bool portOk = colon > 0;
    const uint port = portOk ? listenSpec.mid(colon + 1).toUInt(&portOk) : 0;
    QString host = listenSpec.left(colon);
    if (host.startsWith(QLatin1Char('[')) && host.endsWith(QLatin1Char(']')))
        host = host.mid(1, host.size() - 2);
    const QHostAddress address =
        host == QLatin1String("localhost") ? QHostAddress(QHostAddress::LocalHost) : QHostAddress(host);
    if (!portOk || port > 65535 || address.isNull())
        usageError(QStringLiteral("--listen: \"%1\" is not host:port (try 127.0.0.1:0)").arg(listenSpec));

    // SIGTERM/SIGINT come back into the event loop through a socket pair and
    // end it with status 0.
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, g_signalPipe) != 0)
        usageError(QStringLiteral("socketpair failed"));
    QSocketNotifier signalNotifier(g_signalPipe[1], QSocketNotifier::Read);
    QObject::connect(&signalNotifier, &QSocketNotifier::activated, &app, [] {
        char byte = 0;
        [[maybe_unused]] const ssize_t n = ::read(g_signalPipe[1], &byte, 1);
        QCoreApplication::exit(0);
    });
    struct sigaction action {};
    action.sa_handler = onTerminationSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(SIGTERM, &action, nullptr);
    ::sigaction(SIGINT, &action, nullptr);

    fmb::fake::FakeForgejo server(std::move(config));
    if (server.listen(address, static_cast<quint16>(port)) == 0) {
        printLine(QStringLiteral("fmb-fake-forgejo: ") + server.errorString());
        return 1;
    }
    printLine(QStringLiteral("listening on ") + server.baseUrl());
    return QCoreApplication::exec();
}
