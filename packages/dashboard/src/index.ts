export { createDashboard } from './dashboard.js';
export type { Dashboard, DashboardOptions } from './dashboard.js';
export type { DashboardAction } from './guard.js';
export type * from './api-types.js';
