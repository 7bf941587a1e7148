import type { Logger, Principal } from '@symbeon/kernel';
import { createCourseLoaders, type CoursesStorage } from './modules/courses/courses-storage.js';
import type { CoursesManager } from './modules/courses/courses-manager.js';
import {
  createEnrollmentLoaders,
  type EnrollmentsStorage,
} from './modules/enrollments/enrollments-storage.js';
import type { EnrollmentsManager } from './modules/enrollments/enrollments-manager.js';
import { createEventLoaders, type EventsStorage } from './modules/events/events-storage.js';
import type { EventsManager } from './modules/events/events-manager.js';

export interface LearningModules {
  logger: Logger;
  storage: { courses: CoursesStorage; events: EventsStorage; enrollments: EnrollmentsStorage };
  courses: CoursesManager;
  events: EventsManager;
  enrollments: EnrollmentsManager;
}

function createLoaders(storage: LearningModules['storage']) {
  return {
    ...createCourseLoaders(storage.courses),
    ...createEventLoaders(storage.events),
    ...createEnrollmentLoaders(storage.enrollments),
  };
}

/** What every resolver of one request sees. Loaders are per request so their caches never leak. */
export interface LearningContext extends Omit<LearningModules, 'storage'> {
  requestId: string;
  /** The caller, as the gateway vouched for it (internal token). */
  principal: Principal;
  loaders: ReturnType<typeof createLoaders>;
}

export function createContext(
  modules: LearningModules,
  requestId: string,
  principal: Principal,
): LearningContext {
  const { storage, ...rest } = modules;
  return {
    ...rest,
    logger: modules.logger.child({ requestId }),
    requestId,
    principal,
    loaders: createLoaders(storage),
  };
}
