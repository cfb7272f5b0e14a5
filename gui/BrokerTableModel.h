#pragma once

#include <QAbstractTableModel>
#include <QList>

#include "admin/AdminProtocol.h"

namespace fmb {

// The console's Brokers tab (issue 14): every broker the cluster's database
// knows, with its heartbeat age and whether it is up, stale (stopped beating
// without a clean stop) or stopped, plus each admin target the console could
// not reach.
class BrokerTableModel final : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        BrokerColumn,
        HostColumn,
        HeartbeatColumn,
        SessionsColumn,
        StateColumn,
        ConsoleColumn,
        ColumnCount
    };
    enum class State { Up, Stale, Stopped, Unreachable };
    Q_ENUM(State)
    static constexpr int StateRole = Qt::UserRole + 1; // State as int, on every column

    // An admin target given to the console that did not answer.
    struct Unreachable {
        QString broker; // its node id when it answered before, else the target's name
        QString problem;
    };

    explicit BrokerTableModel(QObject *parent = nullptr);

    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] int columnCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    [[nodiscard]] QVariant headerData(int section, Qt::Orientation orientation,
                                      int role = Qt::DisplayRole) const override;

    // A broker both in the database and unreachable shows once, unreachable.
    void setBrokers(const QList<BrokerStatus> &brokers, const QList<Unreachable> &unreachable);
    [[nodiscard]] int rowOf(const QString &broker) const;
    [[nodiscard]] State stateAt(int row) const;
    [[nodiscard]] QString stateText(State state) const;

private:
    struct Row {
        BrokerStatus status;
        bool known = false; // the database (or the broker itself) described it
        QString problem;    // non-empty: the console cannot reach it
    };
    [[nodiscard]] static State stateOf(const Row &row);

    QList<Row> m_rows;
};

} // namespace fmb
