// forgejo-mcp-brokerctl: the admin CLI. Wiring only; see BrokerCtl and core/admin.
#include <cstdio>
#include <unistd.h>

#include <QCoreApplication>
#include <QLoggingCategory>

#include "BrokerCtl.h"
#include "MigrateStore.h"
#include "base/LogHandler.h"

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("forgejo-mcp-brokerctl"));
    QCoreApplication::setApplicationVersion(QStringLiteral(FMB_VERSION));
    fmb::installLogHandler();

    fmb::Result<fmb::CtlOptions> options = fmb::parseCtlArguments(QCoreApplication::arguments());
    if (!options) {
        std::fprintf(stderr, "forgejo-mcp-brokerctl: %s\n", qUtf8Printable(options.error().message));
        std::fprintf(stderr, "Try 'forgejo-mcp-brokerctl --help'.\n");
        return fmb::CtlExit::Usage;
    }
    if (options.value().help) {
        std::fputs(qUtf8Printable(fmb::ctlHelpText()), stdout);
        return fmb::CtlExit::Ok;
    }
    if (options.value().version) {
        std::printf("forgejo-mcp-brokerctl %s\n", FMB_VERSION);
        return fmb::CtlExit::Ok;
    }
    // Our own messages say what went wrong; the library's info lines are for --verbose.
    if (!options.value().verbose)
        QLoggingCategory::setFilterRules(QStringLiteral("fmb.*.info=false\nfmb.*.warning=false"));
    else
        QLoggingCategory::setFilterRules(QStringLiteral("fmb.*.debug=true"));

    if (options.value().command == QLatin1String("migrate-store"))
        return fmb::runMigrateStore(options.value());

    options.value().interactive = ::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO);
    fmb::BrokerCtl ctl(options.value());
    QObject::connect(&ctl, &fmb::BrokerCtl::finished, &app,
                     [](int status) { QCoreApplication::exit(status); });
    ctl.start();
    return QCoreApplication::exec();
}
