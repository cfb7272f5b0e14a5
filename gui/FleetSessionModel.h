#pragma once

#include <QAbstractTableModel>
#include <QList>

#include "admin/AdminFleet.h"

namespace fmb {

// The sessions of several brokers in one table (issue 14), with the broker
// (node id) that serves each as the first column. Rows are matched by
// session id (unique across a cluster: it carries the node id) and updated
// in place, so a view keeps its selection across refreshes.
class FleetSessionModel final : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { BrokerColumn, IdColumn, UserColumn, ClientColumn, CreatedColumn, StateColumn, ColumnCount };
    enum Role {
        SessionIdRole = Qt::UserRole + 1, // the full id, on every column
        MemberRole,                       // the fleet member that serves it
    };

    explicit FleetSessionModel(QObject *parent = nullptr);

    [[nodiscard]] int rowCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] int columnCount(const QModelIndex &parent = {}) const override;
    [[nodiscard]] QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    [[nodiscard]] QVariant headerData(int section, Qt::Orientation orientation,
                                      int role = Qt::DisplayRole) const override;

    void setSessions(const QList<FleetSession> &sessions);
    [[nodiscard]] const FleetSession &sessionAt(int row) const { return m_rows.at(row); }
    [[nodiscard]] int rowOf(const QString &id) const;

private:
    QList<FleetSession> m_rows;
};

} // namespace fmb
