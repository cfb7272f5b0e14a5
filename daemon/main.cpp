// forgejo-mcp-brokerd: the headless broker. Wiring only; see core/.
#include <cstdio>

#include <QCoreApplication>

#include "Daemon.h"
#include "SignalWatcher.h"
#include "base/LogHandler.h"
#include "config/ConfigCheck.h"
#include "config/ConfigLoader.h"
#include "eventloop/EpollEventDispatcher.h"

namespace {

// What QCoreApplication::arguments() returns, for use before the application
// object exists: the settings pick its event dispatcher.
QStringList commandLine(int argc, char *argv[])
{
    QStringList arguments;
    arguments.reserve(argc);
    for (int i = 0; i < argc; ++i)
        arguments.append(QString::fromLocal8Bit(argv[i]));
    return arguments;
}

// QCoreApplication::setEventDispatcher() works only before the application
// object is created; the application then owns the dispatcher.
void installEventDispatcher(fmb::EventLoop choice)
{
    if (choice != fmb::EventLoop::Epoll)
        return;
    fmb::Result<std::unique_ptr<fmb::EpollEventDispatcher>> dispatcher = fmb::EpollEventDispatcher::create();
    if (!dispatcher) {
        std::fprintf(stderr, "forgejo-mcp-brokerd: %s; using Qt's event loop\n",
                     qUtf8Printable(dispatcher.error().message));
        return;
    }
    QCoreApplication::setEventDispatcher(dispatcher.value().release());
}

} // namespace

int main(int argc, char *argv[])
{
    fmb::installLogHandler();
    fmb::Result<fmb::ConfigRequest> request =
        fmb::parseConfigRequest(commandLine(argc, argv), QProcessEnvironment::systemEnvironment());
    if (!request) {
        std::fprintf(stderr, "forgejo-mcp-brokerd: %s\n", qUtf8Printable(request.error().message));
        std::fprintf(stderr, "Try 'forgejo-mcp-brokerd --help'.\n");
        return 2;
    }
    if (request.value().help) {
        std::fputs(qUtf8Printable(fmb::configHelpText()), stdout);
        return 0;
    }
    if (request.value().version) {
        std::printf("forgejo-mcp-brokerd %s\n", FMB_VERSION);
        return 0;
    }
    const fmb::BrokerConfig &config = request.value().config;
    if (config.checkConfig) {
        const QStringList problems = fmb::configProblems(config);
        for (const QString &problem : problems)
            std::fprintf(stderr, "forgejo-mcp-brokerd: %s\n", qUtf8Printable(problem));
        if (!problems.isEmpty())
            return 2;
        std::printf("forgejo-mcp-brokerd: configuration OK\n");
        return 0;
    }

    installEventDispatcher(config.eventLoop);
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("forgejo-mcp-brokerd"));
    QCoreApplication::setApplicationVersion(QStringLiteral(FMB_VERSION));

    fmb::SignalWatcher signalWatcher;
    fmb::Daemon daemon(config);
    QObject::connect(&signalWatcher, &fmb::SignalWatcher::terminationRequested, &daemon,
                     &fmb::Daemon::shutdown);
    // The same flags and environment, the file read again (systemctl reload).
    QObject::connect(&signalWatcher, &fmb::SignalWatcher::reloadRequested, &daemon,
                     [&daemon, arguments = commandLine(argc, argv)] {
                         daemon.reload(fmb::loadConfig(arguments, QProcessEnvironment::systemEnvironment()));
                     });
    QObject::connect(&daemon, &fmb::Daemon::stopped, &app, [] { QCoreApplication::exit(0); });

    fmb::Result<void> started = daemon.start();
    if (!started) {
        std::fprintf(stderr, "forgejo-mcp-brokerd: %s\n", qUtf8Printable(started.error().message));
        return 1;
    }
    return QCoreApplication::exec();
}
