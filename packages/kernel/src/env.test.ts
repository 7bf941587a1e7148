import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EnvError, envField, parseEnv } from './env.js';

const shape = {
  PORT: envField.port(8000),
  DATABASE_URL: z
    .string()
    .regex(/^postgres:\/\//, 'must be a postgres:// URL')
    .optional(),
  FEATURE: envField.bool(false),
  ORIGINS: envField.list('a,b'),
  SWITCH: envField.optionalBool(),
  REQUIRED_SECRET: z.string().min(1),
};

describe('parseEnv', () => {
  it('applies defaults and types, treating empty strings as unset', () => {
    const env = parseEnv(shape, { REQUIRED_SECRET: 's', PORT: '', FEATURE: 'yes', ORIGINS: ' x , y ,' });
    expect(env).toEqual({
      PORT: 8000,
      FEATURE: true,
      ORIGINS: ['x', 'y'],
      SWITCH: undefined,
      REQUIRED_SECRET: 's',
    });
  });

  it('reports every problem at once, naming each variable', () => {
    try {
      parseEnv(shape, { PORT: '99999', DATABASE_URL: 'mysql://x', FEATURE: 'maybe' });
      expect.unreachable('parseEnv accepted a broken environment');
    } catch (error) {
      expect(error).toBeInstanceOf(EnvError);
      const issues = (error as EnvError).issues.join('\n');
      for (const name of ['PORT', 'DATABASE_URL', 'FEATURE', 'REQUIRED_SECRET'])
        expect(issues).toContain(name);
      expect((error as EnvError).issues).toHaveLength(4);
    }
  });
});
