export { gameDay } from './gameDay';
export { janitor } from './janitor';
