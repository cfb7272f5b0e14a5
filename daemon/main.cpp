// forgejo-mcp-brokerd: the headless broker. Wiring only; see core/.
#include <cstdio>

#include <QCoreApplication>

#include "Daemon.h"
#include "SignalWatcher.h"
#include "base/LogHandler.h"
#include "config/ConfigLoader.h"

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("forgejo-mcp-brokerd"));
    QCoreApplication::setApplicationVersion(QStringLiteral(FMB_VERSION));
    fmb::installLogHandler();

    fmb::Result<fmb::ConfigRequest> request =
        fmb::parseConfigRequest(QCoreApplication::arguments(), QProcessEnvironment::systemEnvironment());
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

    fmb::SignalWatcher signalWatcher;
    fmb::Daemon daemon(config);
    QObject::connect(&signalWatcher, &fmb::SignalWatcher::terminationRequested, &daemon,
                     &fmb::Daemon::shutdown);
    QObject::connect(&daemon, &fmb::Daemon::stopped, &app, [] { QCoreApplication::exit(0); });

    fmb::Result<void> started = daemon.start();
    if (!started) {
        std::fprintf(stderr, "forgejo-mcp-brokerd: %s\n", qUtf8Printable(started.error().message));
        return 1;
    }
    return QCoreApplication::exec();
}
