export { gameDay } from './gameDay';
