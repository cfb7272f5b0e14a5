// forgejo-mcp-broker-console: the Qt Widgets admin console. Wiring only; see
// ConsoleWindow and core/admin.
#include <cstdio>

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QIcon>
#include <QLocale>
#include <QTabWidget>
#include <QTimer>

#include "ClusterWindow.h"
#include "ConsoleTranslations.h"
#include "ConsoleWindow.h"
#include "admin/AdminPaths.h"
#include "base/LogHandler.h"

namespace {

// --screenshot FILE: once the sessions are listed and a countdown tick has
// passed, save the window (QWidget::grab) and quit. For docs/make-screenshot.sh.
void arrangeScreenshot(fmb::ConsoleWindow &window, const QString &file, int delayMs)
{
    QObject::connect(
        &window, &fmb::ConsoleWindow::sessionsLoaded, &window,
        [&window, file, delayMs] {
            QTimer::singleShot(delayMs, &window, [&window, file] {
                const bool saved = window.grab().save(file);
                std::fprintf(saved ? stdout : stderr, "%s %s\n", saved ? "saved" : "could not save",
                             qUtf8Printable(file));
                QApplication::exit(saved ? 0 : 1);
            });
        },
        Qt::SingleShotConnection);
    QTimer::singleShot(30000 + delayMs, &window, [] {
        std::fprintf(stderr, "forgejo-mcp-broker-console: no session list within 30 s; no screenshot\n");
        QApplication::exit(1);
    });
}

} // namespace

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("forgejo-mcp-broker"));
    QApplication::setApplicationName(QStringLiteral("forgejo-mcp-broker-console"));
    QApplication::setApplicationDisplayName(QStringLiteral("Forgejo MCP Broker Console"));
    QApplication::setApplicationVersion(QStringLiteral(FMB_VERSION));
    QApplication::setDesktopFileName(QStringLiteral("forgejo-mcp-broker-console"));
    fmb::installLogHandler();

    QIcon icon;
    for (int size : {16, 32, 48, 64, 128, 256})
        icon.addFile(QStringLiteral(":/icons/forgejo-mcp-broker-console-%1.png").arg(size),
                     QSize(size, size));
    QApplication::setWindowIcon(icon);

    (void)fmb::installConsoleTranslations(QLocale());

    QCommandLineParser parser;
    parser.setApplicationDescription(QApplication::translate(
        "main", "Lists and evicts the MCP sessions of a forgejo-mcp-brokerd through its admin socket."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption socketOption(
        QStringLiteral("admin-socket"),
        QApplication::translate("main", "The broker's admin socket (default: %1). Give it (or --ssh) "
                                        "more than once to watch several brokers of a cluster.")
            .arg(fmb::resolveAdminSocketPath({})),
        QStringLiteral("PATH"));
    const QCommandLineOption sshOption(
        QStringLiteral("ssh"),
        QApplication::translate("main", "Reach a broker on another host through OpenSSH (ssh -L to its admin "
                                        "socket); extra ssh options from FMB_SSH_OPTIONS."),
        QStringLiteral("[USER@]HOST[:REMOTE_SOCKET]"));
    const QCommandLineOption screenshotOption(
        QStringLiteral("screenshot"),
        QApplication::translate("main", "Save the window to FILE once the sessions are listed, then quit."),
        QStringLiteral("FILE"));
    const QCommandLineOption sizeOption(QStringLiteral("size"),
                                        QApplication::translate("main", "Window size, e.g. 1120x420."),
                                        QStringLiteral("WxH"));
    const QCommandLineOption delayOption(
        QStringLiteral("screenshot-delay"),
        QApplication::translate("main", "With --screenshot: wait this many seconds after the sessions are "
                                        "listed, so the charts have something to draw (default 1.5)."),
        QStringLiteral("SECONDS"));
    const QCommandLineOption tabOption(
        QStringLiteral("tab"), QApplication::translate("main", "Open on this tab: sessions or users."),
        QStringLiteral("NAME"));
    parser.addOptions({socketOption, sshOption, screenshotOption, sizeOption, tabOption, delayOption});
    parser.process(app);

    // Each --admin-socket and each --ssh names one broker; several open the
    // cluster window (issue 14), one the console as before.
    QList<fmb::AdminTarget> targets;
    for (const QString &socket : parser.values(socketOption))
        targets.append(fmb::AdminTarget::local(fmb::resolveAdminSocketPath(socket)));
    for (const QString &spec : parser.values(sshOption)) {
        fmb::Result<fmb::AdminTarget> ssh = fmb::AdminTarget::fromSshSpec(spec);
        if (!ssh) {
            std::fprintf(stderr, "forgejo-mcp-broker-console: %s\n", qUtf8Printable(ssh.error().message));
            return 2;
        }
        targets.append(ssh.value());
    }
    // One of each is one remote broker, as it always was: --ssh wins.
    if (parser.values(socketOption).size() == 1 && parser.values(sshOption).size() == 1)
        targets.removeFirst();
    if (targets.size() > 1) {
        fmb::ClusterWindow cluster;
        cluster.resize(1000, 480);
        cluster.show();
        cluster.connectTo(targets);
        return QApplication::exec();
    }
    const fmb::AdminTarget target =
        !targets.isEmpty() ? targets.first() : fmb::AdminTarget::local(fmb::resolveAdminSocketPath({}));

    fmb::ConsoleWindow window;
    if (parser.isSet(sizeOption)) {
        const QStringList parts = parser.value(sizeOption).split(QLatin1Char('x'));
        if (parts.size() == 2 && parts[0].toInt() > 0 && parts[1].toInt() > 0)
            window.resize(parts[0].toInt(), parts[1].toInt());
    }
    if (parser.isSet(tabOption)) {
        const QString tab = parser.value(tabOption);
        if (tab != QLatin1String("sessions") && tab != QLatin1String("users")) {
            std::fprintf(stderr, "forgejo-mcp-broker-console: --tab is sessions or users, not %s\n",
                         qUtf8Printable(tab));
            return 2;
        }
        window.tabs()->setCurrentIndex(tab == QLatin1String("users") ? 1 : 0);
    }
    if (parser.isSet(screenshotOption)) {
        bool valid = true;
        const double delay = parser.isSet(delayOption) ? parser.value(delayOption).toDouble(&valid) : 1.5;
        if (!valid || delay < 0 || delay > 600) {
            std::fprintf(stderr, "forgejo-mcp-broker-console: --screenshot-delay is 0 to 600 seconds\n");
            return 2;
        }
        arrangeScreenshot(window, parser.value(screenshotOption), qRound(delay * 1000));
    }
    window.show();
    window.connectTo(target);
    return QApplication::exec();
}
