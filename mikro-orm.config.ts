// Configuration for the MikroORM CLI (`npx mikro-orm migration:create` etc.); the app builds its own.
import { createOrmConfig } from './src/db/orm-config';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL must point at a PostgreSQL database for the MikroORM CLI (or use npm run migration:create)');
export default createOrmConfig(url);
