// The cluster console (issue 14) driven offscreen against two real
// AdminServers over real QLocalSockets, each with its own registry and node
// id, plus an admin socket nobody serves: one session table with a Broker
// column, eviction routed to the row's broker, and a Brokers tab that names
// stale and unreachable brokers.
#include <memory>

#include <QAction>
#include <QApplication>
#include <QDateTime>
#include <QItemSelectionModel>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include "BrokerTableModel.h"
#include "ClusterWindow.h"
#include "FleetSessionModel.h"
#include "TestBroker.h"
#include "admin/AdminFleet.h"
#include "admin/AdminServer.h"
#include "session/SessionRegistry.h"

using namespace fmb;

class tst_ClusterWindow : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void oneTableWithBrokerColumn();
    void evictGoesToTheRowsBroker();
    void brokersTabShowsStaleAndUnreachable();
    void brokerThatStopsAnsweringIsShown();

private:
    void openWindow();
    [[nodiscard]] QString cell(const QAbstractItemModel *model, int row, int column) const
    {
        return model->data(model->index(row, column)).toString();
    }

    std::unique_ptr<fmbtest::TwoBrokers> m_brokers;
    std::unique_ptr<ClusterWindow> m_window;
};

void tst_ClusterWindow::init()
{
    m_brokers = std::make_unique<fmbtest::TwoBrokers>();
    QVERIFY(m_brokers->listen());
}

void tst_ClusterWindow::cleanup()
{
    m_window.reset();
    m_brokers.reset();
}

void tst_ClusterWindow::openWindow()
{
    m_window = std::make_unique<ClusterWindow>();
    m_window->setRefreshInterval(50);
    m_window->setConfirmFunction([](QWidget *, const QString &, const QString &) { return true; });
    m_window->show();
    QSignalSpy refreshed(m_window.get(), &ClusterWindow::refreshed);
    m_window->connectTo({AdminTarget::local(m_brokers->alpha->server->socketPath()),
                         AdminTarget::local(m_brokers->beta->server->socketPath()),
                         AdminTarget::local(m_brokers->missingSocket())});
    QTRY_VERIFY(refreshed.count() >= 1);
}

void tst_ClusterWindow::oneTableWithBrokerColumn()
{
    const QString a1 = m_brokers->alpha->create(QStringLiteral("alice"));
    const QString b1 = m_brokers->beta->create(QStringLiteral("bob"));
    openWindow();
    const FleetSessionModel *model = m_window->sessionModel();
    QTRY_COMPARE(model->rowCount(), 2);
    QCOMPARE(model->headerData(FleetSessionModel::BrokerColumn, Qt::Horizontal).toString(),
             QStringLiteral("Broker"));
    const int alphaRow = model->rowOf(a1);
    const int betaRow = model->rowOf(b1);
    QVERIFY(alphaRow >= 0 && betaRow >= 0);
    QCOMPARE(cell(model, alphaRow, FleetSessionModel::BrokerColumn), QStringLiteral("alpha"));
    QCOMPARE(cell(model, alphaRow, FleetSessionModel::UserColumn), QStringLiteral("alice"));
    QCOMPARE(cell(model, betaRow, FleetSessionModel::BrokerColumn), QStringLiteral("beta"));
    QCOMPARE(model->data(model->index(betaRow, 0), FleetSessionModel::SessionIdRole).toString(), b1);

    // A session started later shows up at a refresh.
    const QString b2 = m_brokers->beta->create(QStringLiteral("carol"));
    QTRY_VERIFY(model->rowOf(b2) >= 0);
    QCOMPARE(cell(model, model->rowOf(b2), FleetSessionModel::BrokerColumn), QStringLiteral("beta"));
    QVERIFY2(m_window->statusText().contains(QLatin1String("2 of 3")), qPrintable(m_window->statusText()));
}

void tst_ClusterWindow::evictGoesToTheRowsBroker()
{
    const QString a1 = m_brokers->alpha->create(QStringLiteral("alice"));
    const QString b1 = m_brokers->beta->create(QStringLiteral("bob"));
    const QString b2 = m_brokers->beta->create(QStringLiteral("carol"));
    openWindow();
    const FleetSessionModel *model = m_window->sessionModel();
    QTRY_COMPARE(model->rowCount(), 3);
    QVERIFY(!m_window->evictAction()->isEnabled());
    QTableView *view = m_window->sessionView();
    view->selectionModel()->select(model->index(model->rowOf(b1), 0),
                                   QItemSelectionModel::Select | QItemSelectionModel::Rows);
    QVERIFY(m_window->evictAction()->isEnabled());
    m_window->evictAction()->trigger();
    QTRY_COMPARE(m_brokers->beta->registry.count(), 1);
    QVERIFY(!m_brokers->beta->registry.find(b1));
    QVERIFY(m_brokers->beta->registry.find(b2));
    QCOMPARE(m_brokers->alpha->registry.count(), 1);
    QTRY_COMPARE(model->rowCount(), 2);
    QCOMPARE(model->rowOf(b1), -1);

    // Rows of both brokers at once: each goes to its own.
    view->selectAll();
    m_window->evictAction()->trigger();
    QTRY_COMPARE(m_brokers->alpha->registry.count(), 0);
    QTRY_COMPARE(m_brokers->beta->registry.count(), 0);
    QTRY_COMPARE(model->rowCount(), 0);
    Q_UNUSED(a1)
}

void tst_ClusterWindow::brokersTabShowsStaleAndUnreachable()
{
    // alpha answers from "the database", where gamma stopped beating.
    m_brokers->alpha->server->setBrokerLister([](const AdminServer::BrokerReply &reply) {
        BrokerStatus alpha;
        alpha.nodeId = QStringLiteral("alpha");
        alpha.heartbeatMs = QDateTime::currentMSecsSinceEpoch();
        alpha.heartbeatAgeMs = 1000;
        alpha.staleAfterMs = 15000;
        BrokerStatus gamma = alpha;
        gamma.nodeId = QStringLiteral("gamma");
        gamma.heartbeatAgeMs = 60000;
        gamma.stale = true;
        reply(Result<QList<BrokerStatus>>(QList<BrokerStatus>{alpha, gamma}));
    });
    openWindow();
    const BrokerTableModel *brokers = m_window->brokerModel();
    QTRY_VERIFY(brokers->rowOf(QStringLiteral("gamma")) >= 0);
    QTRY_VERIFY(brokers->rowOf(QStringLiteral("beta")) >= 0);
    const int alpha = brokers->rowOf(QStringLiteral("alpha"));
    const int gamma = brokers->rowOf(QStringLiteral("gamma"));
    QCOMPARE(brokers->stateAt(alpha), BrokerTableModel::State::Up);
    QCOMPARE(cell(brokers, alpha, BrokerTableModel::StateColumn), QStringLiteral("up"));
    QCOMPARE(cell(brokers, alpha, BrokerTableModel::ConsoleColumn), QStringLiteral("connected"));
    QCOMPARE(brokers->stateAt(gamma), BrokerTableModel::State::Stale);
    QCOMPARE(cell(brokers, gamma, BrokerTableModel::StateColumn), QStringLiteral("stale"));
    QCOMPARE(cell(brokers, gamma, BrokerTableModel::HeartbeatColumn), QStringLiteral("1m 00s ago"));
    // The target nobody serves: a row of its own, not answering.
    bool sawGone = false;
    for (int row = 0; row < brokers->rowCount(); ++row) {
        if (cell(brokers, row, BrokerTableModel::BrokerColumn).contains(QLatin1String("gone/admin.sock"))) {
            QCOMPARE(brokers->stateAt(row), BrokerTableModel::State::Unreachable);
            sawGone = true;
        }
    }
    QVERIFY(sawGone);
}

void tst_ClusterWindow::brokerThatStopsAnsweringIsShown()
{
    m_brokers->beta->create(QStringLiteral("bob"));
    openWindow();
    const BrokerTableModel *brokers = m_window->brokerModel();
    QTRY_VERIFY(brokers->rowOf(QStringLiteral("beta")) >= 0);
    QCOMPARE(brokers->stateAt(brokers->rowOf(QStringLiteral("beta"))), BrokerTableModel::State::Up);
    m_brokers->beta.reset(); // the broker goes away
    QTRY_COMPARE(brokers->stateAt(brokers->rowOf(QStringLiteral("beta"))),
                 BrokerTableModel::State::Unreachable);
    QTRY_COMPARE(m_window->sessionModel()->rowCount(), 0);
}

QTEST_MAIN(tst_ClusterWindow)
#include "tst_clusterwindow.moc"
