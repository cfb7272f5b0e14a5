// The console window driven offscreen against a real forgejo-mcp-brokerd with
// real children: sessions appear live, the countdown column says "no token"
// in local mode, Evict (button with the real confirmation box, or Delete with
// an injected confirmation) ends sessions and their child processes, and the
// window reconnects when the daemon comes back.
#include <QAction>
#include <QApplication>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>

#include "ConsoleTranslations.h"
#include "ConsoleWindow.h"
#include "DaemonHarness.h"
#include "LiveChart.h"
#include "SessionTableModel.h"
#include "UserTableModel.h"
#include "admin/AdminClient.h"

using namespace fmb;

class tst_ConsoleWindow : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();
    void cleanupTestCase();

    void sessionAppearsLive();
    void evictButtonWithConfirmation();
    void deleteKeyEvictsSeveral();
    void cancelledEvictKeepsSession();
    void revokeNamesWhatGoes();
    void filter();
    void reconnectsWhenDaemonReturns();
    void chartsShowActivity();
    void usersTabRevokes();

private:
    [[nodiscard]] bool connectWindow();
    [[nodiscard]] qint64 pidOf(const QString &id) const;

    QTemporaryDir m_dir;
    std::unique_ptr<test::DaemonHarness> m_daemon;
    std::unique_ptr<ConsoleWindow> m_window;
};

void tst_ConsoleWindow::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("fmb-tests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_consolewindow"));
    QSettings().clear();
    // English is a translation too: it carries the plural forms.
    QVERIFY(!installConsoleTranslations(QLocale(QLocale::English)).isEmpty());
    QVERIFY(m_dir.isValid());
    m_daemon = std::make_unique<test::DaemonHarness>(m_dir.filePath(QStringLiteral("admin.sock")));
    QVERIFY2(m_daemon->start(), qPrintable(m_daemon->error()));
}

void tst_ConsoleWindow::init()
{
    m_window = std::make_unique<ConsoleWindow>();
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
}

void tst_ConsoleWindow::cleanup()
{
    m_window.reset();
}

void tst_ConsoleWindow::cleanupTestCase()
{
    m_daemon.reset();
    QSettings().clear();
}

bool tst_ConsoleWindow::connectWindow()
{
    QSignalSpy loaded(m_window.get(), &ConsoleWindow::sessionsLoaded);
    m_window->connectTo(AdminTarget::local(m_daemon->adminSocket()));
    return loaded.wait(10000);
}

qint64 tst_ConsoleWindow::pidOf(const QString &id) const
{
    SessionTableModel *model = m_window->model();
    return model->index(model->rowOf(id), SessionTableModel::PidColumn).data().toLongLong();
}

void tst_ConsoleWindow::sessionAppearsLive()
{
    QVERIFY(connectWindow());
    QTRY_VERIFY(m_window->connectionText().startsWith(QLatin1String("Connected to")));
    QVERIFY2(m_window->connectionText().contains(m_daemon->adminSocket()),
             qPrintable(m_window->connectionText()));

    const QString id = m_daemon->createSession(QStringLiteral("console-client"));
    QVERIFY2(!id.isEmpty(), qPrintable(m_daemon->error()));
    SessionTableModel *model = m_window->model();
    QTRY_VERIFY(model->rowOf(id) >= 0);
    const int row = model->rowOf(id);
    QTRY_COMPARE(model->index(row, SessionTableModel::ClientColumn).data().toString(),
                 QStringLiteral("console-client"));
    QCOMPARE(model->index(row, SessionTableModel::UserColumn).data().toString(), QStringLiteral("local"));
    QCOMPARE(model->index(row, SessionTableModel::TokenColumn).data().toString(), QStringLiteral("no token"));
    QVERIFY(model->index(row, SessionTableModel::TokenColumn)
                .data(Qt::ToolTipRole)
                .toString()
                .contains(QLatin1String("local mode")));
    QTRY_VERIFY(test::processExists(pidOf(id)));
    // Shown through the proxy, in the view.
    QTRY_COMPARE(m_window->proxy()->rowCount(), model->rowCount());

    // Daemon info in the status bar.
    const QString url = m_daemon->mcpUrl().toString().chopped(4);
    QTRY_VERIFY2(m_window->infoText().contains(url), qPrintable(m_window->infoText()));
    QVERIFY(m_window->infoText().contains(QLatin1String("local mode")));
    QVERIFY(m_window->findChild<QLabel *>(QStringLiteral("daemonInfo"))->text().contains(url));
}

void tst_ConsoleWindow::evictButtonWithConfirmation()
{
    QVERIFY(connectWindow());
    const QString id = m_daemon->createSession(QStringLiteral("evict-by-button"));
    QVERIFY(!id.isEmpty());
    QTRY_VERIFY(m_window->model()->rowOf(id) >= 0);
    QTRY_VERIFY(test::processExists(pidOf(id)));
    const qint64 pid = pidOf(id);

    m_window->selectSessions({id});
    QCOMPARE(m_window->selectedSessionIds(), QStringList{id});
    QVERIFY(m_window->evictAction()->isEnabled());

    // The real QMessageBox: found once it is up, checked, and answered Evict.
    QString shown;
    bool answered = false;
    std::function<void()> answer = [&] {
        auto *box = qobject_cast<QMessageBox *>(QApplication::activeModalWidget());
        if (!box) {
            QTimer::singleShot(20, m_window.get(), answer);
            return;
        }
        shown = box->text();
        QTest::mouseClick(box->button(QMessageBox::Yes), Qt::LeftButton);
        answered = true;
    };
    QTimer::singleShot(0, m_window.get(), answer);
    auto *toolBar = m_window->findChild<QToolBar *>(QStringLiteral("mainToolBar"));
    QVERIFY(toolBar);
    QWidget *button = toolBar->widgetForAction(m_window->evictAction());
    QVERIFY(button);
    QTest::mouseClick(button, Qt::LeftButton);

    QTRY_VERIFY(answered);
    QVERIFY2(shown.contains(id.right(48).left(12)), qPrintable(shown));
    QVERIFY2(shown.contains(QLatin1String("local")), qPrintable(shown));
    QVERIFY2(shown.contains(QLatin1String("evict-by-button")), qPrintable(shown));
    QTRY_COMPARE(m_window->model()->rowOf(id), -1);
    QTRY_VERIFY_WITH_TIMEOUT(!test::processExists(pid), 10000);
}

void tst_ConsoleWindow::deleteKeyEvictsSeveral()
{
    QStringList confirmations;
    m_window->setConfirmFunction([&confirmations](QWidget *, const QString &, const QString &text) {
        confirmations.append(text);
        return true;
    });
    QVERIFY(connectWindow());
    const QString a = m_daemon->createSession(QStringLiteral("several-a"));
    const QString b = m_daemon->createSession(QStringLiteral("several-b"));
    const QString keep = m_daemon->createSession(QStringLiteral("keep-me"));
    QVERIFY(!a.isEmpty() && !b.isEmpty() && !keep.isEmpty());
    QTRY_VERIFY(m_window->model()->rowOf(a) >= 0 && m_window->model()->rowOf(b) >= 0 &&
                m_window->model()->rowOf(keep) >= 0);
    QTRY_VERIFY(test::processExists(pidOf(a)) && test::processExists(pidOf(b)));
    const qint64 pidA = pidOf(a);
    const qint64 pidB = pidOf(b);

    m_window->activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
    m_window->view()->setFocus();
    m_window->selectSessions({a, b});
    QCOMPARE(m_window->selectedSessionIds().size(), 2);
    QTest::keyClick(m_window->view(), Qt::Key_Delete);

    QCOMPARE(confirmations.size(), 1);
    QVERIFY2(confirmations.at(0).contains(QLatin1String("2 sessions")), qPrintable(confirmations.at(0)));
    QVERIFY(confirmations.at(0).contains(a.right(48).left(12)));
    QVERIFY(confirmations.at(0).contains(b.right(48).left(12)));
    QVERIFY(!confirmations.at(0).contains(keep.right(48).left(12)));
    QTRY_VERIFY(m_window->model()->rowOf(a) < 0 && m_window->model()->rowOf(b) < 0);
    QVERIFY(m_window->model()->rowOf(keep) >= 0);
    QTRY_VERIFY_WITH_TIMEOUT(!test::processExists(pidA) && !test::processExists(pidB), 10000);
}

void tst_ConsoleWindow::cancelledEvictKeepsSession()
{
    int asked = 0;
    m_window->setConfirmFunction([&asked](QWidget *, const QString &, const QString &) {
        ++asked;
        return false;
    });
    QVERIFY(connectWindow());
    const QString id = m_daemon->createSession(QStringLiteral("stays"));
    QTRY_VERIFY(m_window->model()->rowOf(id) >= 0);
    m_window->selectSessions({id});
    m_window->evictSelected();
    QCOMPARE(asked, 1);
    // A barrier on the window's own connection: a stray evict would have gone
    // before it, and the session's end event would have come before its answer.
    bool answered = false;
    m_window->client()->info([&answered](const AdminReply &, const DaemonInfo &) { answered = true; });
    QTRY_VERIFY(answered);
    QVERIFY(m_window->model()->rowOf(id) >= 0);
    QVERIFY(test::processExists(pidOf(id)));
}

// Issue 15: "Revoke access…" names the user and what goes; the local-mode
// daemon here keeps no tokens, so its answer (unavailable) reaches the status
// bar and the session stays. A cancelled question sends nothing.
void tst_ConsoleWindow::revokeNamesWhatGoes()
{
    QStringList questions;
    bool answer = false;
    m_window->setConfirmFunction([&](QWidget *, const QString &title, const QString &text) {
        questions.append(title + QLatin1Char('|') + text);
        return answer;
    });
    QVERIFY(connectWindow());
    const QString id = m_daemon->createSession(QStringLiteral("revoke-me"));
    QTRY_VERIFY(m_window->model()->rowOf(id) >= 0);
    m_window->selectSessions({id});
    QVERIFY(m_window->revokeAction()->isEnabled());

    m_window->revokeAction()->trigger();
    QCOMPARE(questions.size(), 1);
    const QString &asked = questions.constFirst();
    QVERIFY2(asked.startsWith(QLatin1String("Revoke Access|Revoke all access of local?")), qPrintable(asked));
    // Earlier tests' sessions (all of user "local") may still be open.
    const QList<SessionInfo> open = m_window->model()->sessions();
    // The English translation carries the plural forms.
    const QString ends = open.size() == 1 ? QStringLiteral("ends the open session of local")
                                          : QStringLiteral("ends %1 open sessions of local").arg(open.size());
    QVERIFY2(asked.contains(ends), qPrintable(asked));
    QVERIFY2(asked.contains(QLatin1String("every grant and broker token")), qPrintable(asked));
    QVERIFY2(asked.contains(QLatin1String("Forgejo tokens")), qPrintable(asked));
    bool answered = false;
    m_window->client()->info([&answered](const AdminReply &, const DaemonInfo &) { answered = true; });
    QTRY_VERIFY(answered);
    QVERIFY(m_window->statusBar()->currentMessage().isEmpty() ||
            !m_window->statusBar()->currentMessage().contains(QLatin1String("Revok")));

    answer = true;
    m_window->revokeAction()->trigger();
    QCOMPARE(questions.size(), 2);
    QTRY_VERIFY2(m_window->statusBar()->currentMessage().contains(QLatin1String("Revoking failed")),
                 qPrintable(m_window->statusBar()->currentMessage()));
    QVERIFY(m_window->statusBar()->currentMessage().contains(QLatin1String("local mode")));
    QVERIFY(m_window->model()->rowOf(id) >= 0);
    QVERIFY(test::processExists(pidOf(id)));
}

void tst_ConsoleWindow::filter()
{
    QVERIFY(connectWindow());
    const QString id = m_daemon->createSession(QStringLiteral("filter-target"));
    QTRY_VERIFY(m_window->model()->rowOf(id) >= 0);
    QVERIFY(m_window->proxy()->rowCount() >= 2);
    QTest::keyClicks(m_window->filterEdit(), QStringLiteral("FILTER-TAR"));
    QTRY_COMPARE(m_window->proxy()->rowCount(), 1);
    m_window->filterEdit()->setText(id.mid(20, 12)); // the hidden part of the id matches too
    QTRY_COMPARE(m_window->proxy()->rowCount(), 1);
    QVERIFY(m_window->infoText().contains(QLatin1String("shown")));
    m_window->filterEdit()->clear();
    QTRY_COMPARE(m_window->proxy()->rowCount(), m_window->model()->rowCount());
}

void tst_ConsoleWindow::reconnectsWhenDaemonReturns()
{
    QVERIFY(connectWindow());
    const QString before = m_daemon->createSession(QStringLiteral("before-restart"));
    QTRY_VERIFY(m_window->model()->rowOf(before) >= 0);
    m_window->selectSessions({before});

    m_daemon->stop();
    QTRY_VERIFY_WITH_TIMEOUT(m_window->connectionText().startsWith(QLatin1String("Disconnected")), 10000);
    QVERIFY2(m_window->connectionText().contains(QLatin1String("retrying")),
             qPrintable(m_window->connectionText()));
    QVERIFY(!m_window->evictAction()->isEnabled());

    m_daemon = std::make_unique<test::DaemonHarness>(m_dir.filePath(QStringLiteral("admin.sock")));
    QVERIFY2(m_daemon->start(), qPrintable(m_daemon->error()));
    QTRY_VERIFY_WITH_TIMEOUT(m_window->isConnected(), 15000);
    // The new daemon has none of the old sessions.
    QTRY_COMPARE(m_window->model()->rowOf(before), -1);
    const QString after = m_daemon->createSession(QStringLiteral("after-restart"));
    QTRY_VERIFY(m_window->model()->rowOf(after) >= 0);
}

// The charts draw what the daemon counts: sessions open, and a request rate
// that rises when a client sends requests.
void tst_ConsoleWindow::chartsShowActivity()
{
    using Series = ActivityHistory::Series;
    QVERIFY(connectWindow());
    QSignalSpy sampled(m_window.get(), &ConsoleWindow::activitySampled);
    QVERIFY(sampled.wait(10000));
    QCOMPARE(m_window->chart(Series::Sessions)->valueText(),
             QString::number(m_window->history().latest(Series::Sessions).value_or(-1)));

    const QString id = m_daemon->createSession(QStringLiteral("chart-client"));
    QVERIFY2(!id.isEmpty(), qPrintable(m_daemon->error()));
    // Requests keep coming until a sample counts them: a rate is measured
    // between two samples.
    QTRY_VERIFY_WITH_TIMEOUT(
        m_daemon->ping(id) && m_window->history().latest(Series::RequestsPerSecond).value_or(0) > 0, 15000);
    QTRY_VERIFY(m_window->history().latest(Series::Sessions).value_or(0) >= 1);
    QVERIFY(m_window->chart(Series::RequestsPerSecond)->valueText() != QStringLiteral("–"));
    QVERIFY(m_window->chart(Series::Sessions)->scaleTop() >= 1);
    // Connecting anew (another broker, maybe) starts the charts over.
    m_window->connectTo(AdminTarget::local(m_daemon->adminSocket()));
    QVERIFY(m_window->history().points(Series::RequestsPerSecond).empty());
}

// The Users tab lists the user with their session count; Revoke from there
// names that user and their sessions (cancelled here: local mode has no tokens).
void tst_ConsoleWindow::usersTabRevokes()
{
    QStringList questions;
    m_window->setConfirmFunction([&](QWidget *, const QString &title, const QString &text) {
        questions.append(title + QLatin1Char('|') + text);
        return false;
    });
    QVERIFY(connectWindow());
    const QString id = m_daemon->createSession(QStringLiteral("users-tab"));
    QVERIFY2(!id.isEmpty(), qPrintable(m_daemon->error()));
    QTRY_VERIFY(m_window->model()->rowOf(id) >= 0);
    UserTableModel *users = m_window->userModel();
    QTRY_VERIFY(users->rowOf(QStringLiteral("local")) >= 0);
    const int sessions = int(m_window->model()->sessions().size());
    QCOMPARE(users->userAt(users->rowOf(QStringLiteral("local"))).sessions, sessions);

    m_window->tabs()->setCurrentWidget(m_window->userView());
    QVERIFY(!m_window->revokeAction()->isEnabled()); // no user selected yet
    QVERIFY(!m_window->evictAction()->isEnabled());  // session eviction belongs to the Sessions tab
    m_window->selectUser(QStringLiteral("local"));
    QVERIFY(m_window->revokeAction()->isEnabled());
    m_window->revokeAction()->trigger();
    QCOMPARE(questions.size(), 1);
    QVERIFY2(questions.constFirst().startsWith(QLatin1String("Revoke Access|Revoke all access of local?")),
             qPrintable(questions.constFirst()));
    QVERIFY2(questions.constFirst().contains(sessions == 1
                                                 ? QStringLiteral("ends the open session of local")
                                                 : QStringLiteral("ends %1 open sessions").arg(sessions)),
             qPrintable(questions.constFirst()));
    QTRY_VERIFY(m_window->model()->rowOf(id) >= 0); // cancelled: nothing went
}

QTEST_MAIN(tst_ConsoleWindow)
#include "tst_consolewindow.moc"
