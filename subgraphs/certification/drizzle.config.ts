import { defineConfig } from 'drizzle-kit';

// `npm run db:generate -w @symbeon/certification` writes a new SQL migration into drizzle/ after a change to
// src/db/schema.ts. Migrations are committed and applied at start-up into the `certification` schema.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
  schemaFilter: ['certification'],
});
