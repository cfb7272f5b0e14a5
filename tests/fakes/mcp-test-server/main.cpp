// fmb-test-mcp-server: a stdio MCP server whose behaviour tests choose per call
// (tools echo, slow, notify, sample, crash, env, garbage, huge, stderr, state)
// and per start (flags below). See README.md beside this file.
#include <csignal>
#include <cstdio>

#include <unistd.h>

#include <QCommandLineParser>
#include <QCoreApplication>

#include "StdinReader.h"
#include "TestServer.h"

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("fmb-test-mcp-server"));
    QCoreApplication::setApplicationVersion(QStringLiteral("1.0"));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Scriptable stdio MCP server for forgejo-mcp-broker tests"));
    parser.addHelpOption();
    const QCommandLineOption exitAtStart(QStringLiteral("exit-at-start"),
                                         QStringLiteral("Exit with <code> before reading anything."),
                                         QStringLiteral("code"));
    const QCommandLineOption noInitializeReply(QStringLiteral("no-initialize-reply"),
                                               QStringLiteral("Never answer initialize."));
    const QCommandLineOption stderrAtStart(QStringLiteral("stderr-at-start"),
                                           QStringLiteral("Write <text> to stderr at start."),
                                           QStringLiteral("text"));
    const QCommandLineOption lingerAfterEof(
        QStringLiteral("linger-after-eof"),
        QStringLiteral("Keep running after stdin closes (only a signal ends it), as a careless "
                       "MCP server would: for tests that a child never outlives its broker."));
    parser.addOptions({exitAtStart, noInitializeReply, stderrAtStart, lingerAfterEof});
    parser.process(app);

    if (parser.isSet(stderrAtStart)) {
        const QByteArray text = parser.value(stderrAtStart).toUtf8() + '\n';
        std::fwrite(text.constData(), 1, static_cast<size_t>(text.size()), stderr);
        std::fflush(stderr);
    }
    if (parser.isSet(exitAtStart)) {
        bool ok = false;
        const int code = parser.value(exitAtStart).toInt(&ok);
        ::_exit(ok ? code : 1);
    }

    // A gateway's graceful stop ends with SIGTERM; make that a clean exit like stdin EOF.
    std::signal(SIGTERM, [](int) { ::_exit(0); });

    fmb::testserver::ServerOptions options;
    options.answerInitialize = !parser.isSet(noInitializeReply);
    fmb::testserver::TestServer server(options);
    fmb::testserver::StdinReader reader;
    QObject::connect(&reader, &fmb::testserver::StdinReader::lineReceived, &server,
                     &fmb::testserver::TestServer::handleLine);
    // MCP stdio transport: the client closing our stdin is the request to shut down.
    if (!parser.isSet(lingerAfterEof)) {
        QObject::connect(&reader, &fmb::testserver::StdinReader::finished, &app,
                         [] { QCoreApplication::exit(0); });
    }
    reader.start();
    return QCoreApplication::exec();
}
